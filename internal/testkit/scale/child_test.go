package scale_test

import (
	"bufio"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/cputime"
)

// envChild carries a childSpec, as JSON, to a child process.
const envChild = "SCALE_CHILD"

const (
	// opTimeout bounds every cache call of the workload.
	opTimeout = 2 * time.Second
	// loaderDelay is the loader's simulated source latency: it keeps a
	// load open long enough for a second, concurrent one to be caught.
	loaderDelay = 2 * time.Millisecond
	// probeTimeout bounds each step of a staleness probe.
	probeTimeout = 5 * time.Second
	// probePoll is how often a watching process reads a probe key once
	// the key's invalidation has arrived (the local tier drops the key
	// right after): the resolution of the staleness figures.
	probePoll = 100 * time.Microsecond
	// probeIdlePoll is how often it reads the key otherwise.
	probeIdlePoll = time.Millisecond
)

// childSpec is what one process of the fleet runs.
type childSpec struct {
	Index, Procs int
	// Cache is the cache's name, fresh for every run.
	Cache string
	// Keys is the size of the key space "k0"… (key i has Zipf rank i).
	Keys int
	// Rate is the process's operations per second (1% writes), 0 for as
	// fast as it can; Readers is its number of reading goroutines.
	Rate, Readers   int
	Warmup, Measure time.Duration
	// Coordinator is the parent's Unix socket; Out the result file.
	Coordinator, Out string
	// BCAST makes the client track with bcastTracking.
	BCAST bool
}

// entry is the cached value: its key, the version of the source it was
// read from or written as, and padding to a typical small value's size.
type entry struct {
	Key     string `msgpack:"k"`
	Version int32  `msgpack:"v"`
	Pad     []byte `msgpack:"p"`
}

var padding = make([]byte, 64)

// readRec and writeRec are one read (Fetch) and one write (Set or Put) of
// the workload, times in unix nanoseconds.
type readRec struct {
	Key, Version int32
	Start, Took  int64
	OK, Foreign  bool // Foreign: the value belonged to another key
}

type writeRec struct {
	Key, Version int32
	Start, End   int64
	OK           bool
}

// childResult is what a child reports, in its result file, once its
// workload has ended. Window figures cover [Warm, End).
type childResult struct {
	Warm, End int64
	// Stats are the cache's counters over the window.
	Stats cache.Stats
	// CPU is the process's user+system time over the window.
	CPU time.Duration
	// Pushes and PushKeys count invalidation messages and the keys they
	// named over the window; Flushes the nil ones (lost connection).
	Pushes, PushKeys, Flushes int64
	// Invals[i] counts invalidations of key i's value over the whole run;
	// LeaseInvals, ProbeInvals and OtherInvals the rest.
	Invals                                []uint32
	LeaseInvals, ProbeInvals, OtherInvals int64
	// Loads[i] counts loader calls for key i over the whole run.
	Loads []uint32
	// OverlapsAfterWrite are loads that found another load of the key
	// running which had read an older version of the source (a write ended
	// its lease, by design); Overlaps found one that had read the same.
	OverlapsAfterWrite, Overlaps int64
	// LoadsAfterPut and LoadsAfterSet are loads that read a version written
	// by a Put (even) or by a source write and Set (odd): the key was
	// missing from Redis after that write.
	LoadsAfterPut, LoadsAfterSet int64
	Reads                        []readRec
	Writes                       []writeRec
}

// newCache returns the workload's cache: the parent's prefill and every
// child use the same options.
func newCache(client *typecache.Client, name string) (*cache.Cache[entry], error) {
	return cache.New[entry](client, name, cache.Options[entry]{TTL: time.Hour})
}

// probeCacheName is the name of the probes' cache beside the cache name.
func probeCacheName(name string) string { return name + "-probe" }

func keyName(i int) string { return "k" + strconv.Itoa(i) }

// TestHelperProcess is the body of a fleet process; run directly, it does
// nothing.
func TestHelperProcess(t *testing.T) {
	raw := os.Getenv(envChild)
	if raw == "" {
		return
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	if err := runChild(spec); err != nil {
		t.Fatal(err)
	}
}

// fleetProcess is one child's state.
type fleetProcess struct {
	spec  childSpec
	cache *cache.Cache[entry]
	// probeCache holds the probe keys, on the same client: its reads,
	// polled, stay out of the workload's Stats.
	probeCache *cache.Cache[entry]
	redis      rueidis.Client
	zipf       zipf
	inv        *invalidationCounter
	loads      keyCounts
	coord      *childLink
	probes     sync.WaitGroup

	overlapsAfterWrite, overlaps atomic.Int64
	loadsAfterPut, loadsAfterSet atomic.Int64
}

func runChild(spec childSpec) error {
	opt, ok := childClientOption()
	if !ok {
		return errors.New("scale: started as a child without a cluster")
	}
	inv := newInvalidationCounter(spec.Cache, spec.Keys)
	opt.OnInvalidations = inv.observe
	if spec.BCAST {
		opt.ClientTrackingOptions = bcastTracking
	}
	client, err := typecache.NewClient(opt)
	if err != nil {
		return err
	}
	defer client.Close()
	c, err := newCache(client, spec.Cache)
	if err != nil {
		return err
	}
	defer c.Close()
	probeCache, err := newCache(client, probeCacheName(spec.Cache))
	if err != nil {
		return err
	}
	defer probeCache.Close()
	conn, err := net.Dial("unix", spec.Coordinator)
	if err != nil {
		return err
	}
	defer conn.Close()
	p := &fleetProcess{
		spec: spec, cache: c, probeCache: probeCache, redis: client.Redis(), zipf: newZipf(spec.Keys), inv: inv,
		loads: make(keyCounts, spec.Keys), coord: &childLink{conn: conn},
	}
	if err := p.coord.send("hello %d", spec.Index); err != nil {
		return err
	}
	if err := childReady(); err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- p.serveCoordinator() }()
	if err := writeResult(spec.Out, p.run()); err != nil {
		return err
	}
	if err := p.coord.send("done"); err != nil {
		return err
	}
	// The parent closes the link once every probe is over and every child
	// is done.
	err = <-served
	p.probes.Wait()
	return err
}

// run drives the workload from now for Warmup+Measure and returns what it
// measured.
func (p *fleetProcess) run() childResult {
	start := time.Now()
	warm, end := start.Add(p.spec.Warmup), start.Add(p.spec.Warmup+p.spec.Measure)
	readers := make([][]readRec, p.spec.Readers)
	var writes []writeRec
	var wg sync.WaitGroup
	readEvery, writeEvery := time.Duration(0), time.Duration(0)
	if p.spec.Rate > 0 {
		readEvery = time.Duration(float64(time.Second) * float64(p.spec.Readers) / (0.99 * float64(p.spec.Rate)))
		writeEvery = time.Duration(float64(time.Second) / (0.01 * float64(p.spec.Rate)))
	}
	for g := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p.spec.Index), uint64(g)))
			readers[g] = p.read(rng, pacer{every: readEvery, next: start, end: end})
		})
	}
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(uint64(p.spec.Index), 1<<32))
		writes = p.write(rng, pacer{every: writeEvery, next: start, end: end})
	})
	time.Sleep(time.Until(warm))
	atWarm, cpuAtWarm, invAtWarm := p.cache.Stats(), cputime.Process(), p.inv.snapshot()
	wg.Wait()
	atEnd, cpuAtEnd, invAtEnd := p.cache.Stats(), cputime.Process(), p.inv.snapshot()
	res := childResult{
		Warm: warm.UnixNano(), End: end.UnixNano(),
		Stats: statsDelta(atWarm, atEnd), CPU: cpuAtEnd - cpuAtWarm,
		Pushes: invAtEnd.pushes - invAtWarm.pushes, PushKeys: invAtEnd.keys - invAtWarm.keys, Flushes: invAtEnd.flushes - invAtWarm.flushes,
		Invals: p.inv.values.snapshot(), Loads: p.loads.snapshot(), LeaseInvals: p.inv.lease.Load(), ProbeInvals: p.inv.probe.Load(), OtherInvals: p.inv.other.Load(),
		OverlapsAfterWrite: p.overlapsAfterWrite.Load(), Overlaps: p.overlaps.Load(),
		LoadsAfterPut: p.loadsAfterPut.Load(), LoadsAfterSet: p.loadsAfterSet.Load(),
		Writes: writes,
	}
	for _, r := range readers {
		res.Reads = append(res.Reads, r...)
	}
	return res
}

// pacer spaces a goroutine's operations every apart on average (none when
// 0) until end, without catching up more than a second of lag. Operations
// more frequent than pacerTick run in bursts, one sleep per tick, so that
// timer wake-ups do not dominate the client CPU per operation.
type pacer struct {
	every     time.Duration
	next, end time.Time
	done      int // operations since the last sleep
}

const pacerTick = 10 * time.Millisecond

// wait waits for the next operation's turn and reports whether there is one.
func (p *pacer) wait() bool {
	if p.every > 0 {
		p.next = p.next.Add(p.every)
		p.done++
		if d := time.Until(p.next); d >= pacerTick || d > 0 && time.Duration(p.done)*p.every >= pacerTick {
			time.Sleep(d)
			p.done = 0
		} else if d < -time.Second {
			p.next = time.Now()
		}
	}
	return time.Now().Before(p.end)
}

// read Fetches Zipf-distributed keys until pc ends and returns the reads.
func (p *fleetProcess) read(rng *rand.Rand, pc pacer) []readRec {
	var log []readRec
	loader := cache.LoaderFunc[entry](p.load)
	for pc.wait() {
		k := p.zipf.next(rng)
		key := keyName(k)
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		start := time.Now().UnixNano()
		v, err := p.cache.Fetch(ctx, key, loader)
		cancel()
		took := time.Now().UnixNano() - start
		log = append(log, readRec{Key: int32(k), Version: v.Version, Start: start, Took: took, OK: err == nil, Foreign: err == nil && v.Key != key})
	}
	return log
}

// write writes Zipf-distributed keys of this process's own (a key's
// writes all come from one goroutine of one process, so its versions are
// ordered) until pc ends, alternating Put and a source write followed by
// Set, and returns the writes.
func (p *fleetProcess) write(rng *rand.Rand, pc pacer) []writeRec {
	var log []writeRec
	versions := map[int]int32{}
	source := cache.WriterFunc[entry](p.writeSource)
	for pc.wait() {
		k := p.ownKey(p.zipf.next(rng))
		versions[k]++
		key := keyName(k)
		v := entry{Key: key, Version: versions[k], Pad: padding}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		start := time.Now().UnixNano()
		var err error
		if v.Version%2 == 0 {
			err = p.cache.Put(ctx, key, v, source)
		} else if err = p.writeSource(ctx, key, v); err == nil {
			err = p.cache.Set(ctx, key, v)
		}
		cancel()
		log = append(log, writeRec{Key: int32(k), Version: v.Version, Start: start, End: time.Now().UnixNano(), OK: err == nil})
	}
	return log
}

// ownKey maps a Zipf rank to the key of the same stripe that this process
// writes: key i belongs to process i % Procs.
func (p *fleetProcess) ownKey(rank int) int {
	k := rank - rank%p.spec.Procs + p.spec.Index
	if k >= p.spec.Keys {
		k -= p.spec.Procs
	}
	return k
}

// serveCoordinator answers the parent's probe requests until it closes
// the link:
//
//	arm <key> <version>    watch key: reply "armed <key>" once this process
//	                       serves version-1, then "seen <key> <unix ns>" once
//	                       it serves version or nothing (-1: not in time)
//	write <key> <version>  Set key to version: reply "wrote <key> <unix ns>"
//	                       with the time Set returned (-1: it failed)
func (p *fleetProcess) serveCoordinator() error {
	lines := bufio.NewScanner(p.coord.conn)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) != 3 {
			return fmt.Errorf("scale: bad request %q", lines.Text())
		}
		key := f[1]
		version, err := strconv.Atoi(f[2])
		if err != nil {
			return err
		}
		switch f[0] {
		case "arm":
			p.probes.Go(func() { p.watch(key, int32(version)) })
		case "write":
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			err := p.probeCache.Set(ctx, key, entry{Key: key, Version: int32(version), Pad: padding})
			cancel()
			done := time.Now().UnixNano()
			if err != nil {
				done = -1
			}
			if err := p.coord.send("wrote %s %d", key, done); err != nil {
				return err
			}
		default:
			return fmt.Errorf("scale: bad request %q", lines.Text())
		}
	}
	return nil
}

// watch is one process's side of a staleness probe of key. It polls the
// key every probeIdlePoll, and every probePoll once an invalidation of a
// probe key has arrived.
func (p *fleetProcess) watch(key string, version int32) {
	// served returns the version this process serves: from its local tier
	// while it holds the key, else from Redis; 0 for nothing, -1 when the
	// read failed.
	served := func() int32 {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		v, err := p.probeCache.Get(ctx, key)
		switch {
		case errors.Is(err, cache.ErrNotFound):
			return 0
		case err != nil:
			return -1
		}
		return v.Version
	}
	deadline := time.Now().Add(probeTimeout)
	for served() != version-1 {
		if time.Now().After(deadline) {
			_ = p.coord.send("armed %s", key)
			_ = p.coord.send("seen %s -1", key)
			return
		}
		time.Sleep(probeIdlePoll)
	}
	select { // a wake-up left by an earlier probe
	case <-p.inv.probeWake:
	default:
	}
	_ = p.coord.send("armed %s", key)
	deadline = time.Now().Add(probeTimeout)
	poll := time.NewTimer(probeIdlePoll)
	defer poll.Stop()
	every := probeIdlePoll
	for {
		if v := served(); v == 0 || v >= version {
			_ = p.coord.send("seen %s %d", key, time.Now().UnixNano())
			return
		}
		if time.Now().After(deadline) {
			_ = p.coord.send("seen %s -1", key)
			return
		}
		poll.Reset(every)
		select {
		case <-p.inv.probeWake:
			every = probePoll
		case <-poll.C:
		}
	}
}

// childLink is a child's end of the coordinator's socket.
type childLink struct {
	mu   sync.Mutex
	conn net.Conn
}

// send writes one line to the parent; safe for concurrent use.
func (l *childLink) send(format string, args ...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := fmt.Fprintf(l.conn, format+"\n", args...)
	return err
}

func writeResult(path string, res childResult) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := gob.NewEncoder(w).Encode(res); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// statsDelta returns the counters of b minus those of a.
func statsDelta(a, b cache.Stats) cache.Stats {
	return cache.Stats{
		LocalHits: b.LocalHits - a.LocalHits, RemoteHits: b.RemoteHits - a.RemoteHits, Misses: b.Misses - a.Misses,
		Loads: b.Loads - a.Loads, LoadErrors: b.LoadErrors - a.LoadErrors, Invalidations: b.Invalidations - a.Invalidations,
		LockWaits: b.LockWaits - a.LockWaits, StoreFailures: b.StoreFailures - a.StoreFailures,
		LocalEntries: b.LocalEntries, LocalBytes: b.LocalBytes,
	}
}

// zipf draws key ranks 0…n-1 with probability proportional to 1/(rank+1):
// Zipf with s = 1 (math/rand's Zipf needs s > 1).
type zipf struct{ cdf []float64 }

func newZipf(n int) zipf {
	cdf := make([]float64, n)
	sum := 0.0
	for i := range cdf {
		sum += 1 / float64(i+1)
		cdf[i] = sum
	}
	return zipf{cdf}
}

func (z zipf) next(rng *rand.Rand) int {
	return sort.SearchFloat64s(z.cdf, rng.Float64()*z.cdf[len(z.cdf)-1])
}
