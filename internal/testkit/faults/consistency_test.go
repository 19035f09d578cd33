package faults_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// The consistency history test: several OS processes run random Fetch,
// Get, FetchMany, Put and Delete calls on a few keys, against a source of
// truth kept in Redis beside the cache (a value per key, and the log of
// every value it took, in order), while every connection is killed now and
// then. Each value is unique, so the log orders all values of a key. The
// checker then proves, for every read that returned a value:
//
//   - the value was written to the source (never a value no write produced);
//   - read your writes: it is not older than the last source write of this
//     process that completed before the read began;
//   - monotonic reads: it is not older than a value this process read from
//     the cache in a read that completed before this one began (a load
//     reads the source, which may be ahead of the cache while a write is
//     still on its way to it, and answers its callers also when a write
//     refused its store or Redis failed: values loaded in this process,
//     and reads that may have joined such a load, do not count here);
//   - bounded staleness: it is not older than any write that completed more
//     than historyBound before the read began, in any process;
//
// and, after the load stops and historyBound has passed, every process
// reads the last value of every key.
//
// The second process runs its cache without a local tier (DisableLocal),
// so that the reads that keep nothing (Get's plain GET, Fetch's untracked
// script) are checked beside the tracked reads of the others. The first
// keeps the defaults (a key's first read untracked, its later reads
// tracked: on 6 keys nearly every read is tracked), the third tracks every
// read (AdmitFirstRead). In the "large values" run every process pads its
// values to 4 KiB (paddedCodec), so that the caches' lone reads leave the
// value out of the read script and GET it in the same transaction.

const (
	historyProcesses  = 3
	historyGoroutines = 8
	historyKeys       = 6
	historyBound      = 1500 * time.Millisecond
	envHistoryEnd     = "FAULTS_HISTORY_END"   // unix ns at which the load stops
	envHistoryLarge   = "FAULTS_HISTORY_LARGE" // "1": values padded to 4 KiB (paddedCodec)
)

// paddedCodec stores an int64 in 8 bytes, big-endian, then zeros up to
// paddedBytes, so that a cache's values are large.
type paddedCodec struct{}

const paddedBytes = 4096

func (paddedCodec) Append(dst []byte, v int64) ([]byte, error) {
	dst = binary.BigEndian.AppendUint64(dst, uint64(v))
	return append(dst, make([]byte, paddedBytes-8)...), nil
}

func (paddedCodec) Decode(data []byte) (int64, error) {
	if len(data) != paddedBytes {
		return 0, codec.ErrCorrupt
	}
	return int64(binary.BigEndian.Uint64(data)), nil
}

// historyOp is one recorded call (fixed-size, for encoding/binary).
type historyOp struct {
	Key     int32
	Process int8
	Write   bool  // a source write (Put, or a write followed by Delete)
	Final   bool  // a read after quiescence
	Loaded  bool  // this process's loader ran for the key during the read
	Call    byte  // 'f' Fetch, 'g' Get, 'm' FetchMany, 'p' Put, 'd' source write and Delete
	Value   int64 // written, or read; 0: the read found nothing
	Start   int64 // unix ns
	End     int64
}

// historySource is the source of truth: "<name>:src{k}" holds the current
// value and "<name>:log{k}" every value it took, appended by the same script.
type historySource struct {
	redis rueidis.Client
	name  string
}

var sourceWrite = rueidis.NewLuaScript(`redis.call('RPUSH', KEYS[2], ARGV[1]); redis.call('SET', KEYS[1], ARGV[1]); return 1`)

func (s historySource) keys(key string) []string {
	return []string{s.name + ":src{" + key + "}", s.name + ":log{" + key + "}"}
}

func (s historySource) write(ctx context.Context, key string, v int64) error {
	return sourceWrite.Exec(ctx, s.redis, s.keys(key), []string{strconv.FormatInt(v, 10)}).Error()
}

func (s historySource) read(ctx context.Context, key string) (int64, error) {
	// Pinned, as every read rueidis may retry (see internal/rediscmd): an
	// unpinned one is recycled while a killed connection may still write
	// it, a data race in rueidis that -race reports in whichever command
	// reuses the memory.
	v, err := s.redis.Do(ctx, rediscmd.Retried(s.redis.B().Get().Key(s.keys(key)[0]).Build())).AsInt64()
	if rueidis.IsRedisNil(err) {
		return 0, cache.ErrNotFound
	}
	return v, err
}

func (s historySource) log(ctx context.Context, key string) ([]int64, error) {
	return s.redis.Do(ctx, rediscmd.Retried(s.redis.B().Lrange().Key(s.keys(key)[1]).Start(0).Stop(-1).Build())).AsIntSlice()
}

// historyProcess is one process of the test: it runs the random calls until
// FAULTS_HISTORY_END, waits historyBound, reads every key once more, and
// writes its operations to FAULTS_OUT.
func historyProcess(t *testing.T) {
	process, _ := strconv.Atoi(os.Getenv(envProcess))
	endNs, _ := strconv.ParseInt(os.Getenv(envHistoryEnd), 10, 64)
	client := redistest.ServerFromEnv().Client(t)
	opts := cache.Options[int64]{
		TTL: time.Hour, StampedeLease: 500 * time.Millisecond, DisableLocal: process == 1, AdmitFirstRead: process == 2,
	}
	if os.Getenv(envHistoryLarge) == "1" {
		opts.Codec = paddedCodec{}
	}
	c, err := cache.New[int64](client, os.Getenv(envName), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src := historySource{redis: client.Redis(), name: os.Getenv(envName)}
	if err := redistest.Ready(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ops []historyOp
	record := func(o historyOp) {
		o.Process = int8(process)
		mu.Lock()
		ops = append(ops, o)
		mu.Unlock()
	}
	// Loader calls per key, counted as they start and as they end: a read
	// that overlaps a load of its key may have been answered by it (as the
	// caller that ran it, or one that joined it).
	var loads [historyKeys]struct{ started, ended atomic.Int64 }
	loadsOf := func(k int) int64 { return loads[k].started.Load()<<32 | loads[k].ended.Load() }
	loadedDuring := func(k int, before int64) bool {
		started, ended := before>>32, before&(1<<32-1)
		return started != ended || loadsOf(k) != before
	}
	countLoad := func(key string) func() {
		k, _ := strconv.Atoi(key[1:])
		loads[k].started.Add(1)
		return func() { loads[k].ended.Add(1) }
	}
	loader := cache.LoaderFunc[int64](func(ctx context.Context, key string) (int64, error) {
		defer countLoad(key)()
		return src.read(ctx, key)
	})
	batch := cache.BatchLoaderFunc[int64](func(ctx context.Context, keys []string) (map[string]int64, error) {
		out := map[string]int64{}
		for _, k := range keys {
			defer countLoad(k)()
			v, err := src.read(ctx, k)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	})
	var counter sync.Mutex
	next := int64(0)
	newValue := func() int64 {
		counter.Lock()
		defer counter.Unlock()
		next++
		return int64(process+1)<<40 | next
	}
	end := time.Unix(0, endNs)
	var wg sync.WaitGroup
	for g := range historyGoroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(process), uint64(g)))
			for time.Now().Before(end) {
				k := rng.IntN(historyKeys)
				key := "k" + strconv.Itoa(k)
				ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				start := time.Now().UnixNano()
				switch p := rng.IntN(100); {
				case p < 45:
					before := loadsOf(k)
					v, err := c.Fetch(ctx, key, loader)
					if err == nil {
						record(historyOp{Key: int32(k), Call: 'f', Value: v, Start: start, End: time.Now().UnixNano(), Loaded: loadedDuring(k, before)})
					}
				case p < 65:
					v, err := c.Get(ctx, key)
					if err == nil {
						record(historyOp{Key: int32(k), Call: 'g', Value: v, Start: start, End: time.Now().UnixNano()})
					}
				case p < 75:
					keys := []string{key, "k" + strconv.Itoa((k+1)%historyKeys), "k" + strconv.Itoa((k+2)%historyKeys)}
					var before [3]int64
					for i := range keys {
						before[i] = loadsOf((k + i) % historyKeys)
					}
					got, err := c.FetchMany(ctx, keys, batch)
					if err == nil {
						done := time.Now().UnixNano()
						for i := range keys {
							j := (k + i) % historyKeys
							record(historyOp{Key: int32(j), Call: 'm', Value: got[keys[i]], Start: start, End: done, Loaded: loadedDuring(j, before[i])})
						}
					}
				default:
					v := newValue()
					var err error
					call := byte('d')
					if p < 90 {
						call = 'p'
						err = c.Put(ctx, key, v, cache.WriterFunc[int64](func(ctx context.Context, key string, v int64) error { return src.write(ctx, key, v) }))
					} else if err = src.write(ctx, key, v); err == nil {
						err = c.Delete(ctx, key) // cache-aside: write the source, drop the entry
					}
					if err != nil {
						// The source may have been written: a careful caller
						// drops the entry until that works.
						for err != nil && time.Now().Before(end.Add(opTimeout)) {
							err = c.Delete(context.Background(), key)
						}
					}
					// The write counts from its start, as long as it may have
					// reached the source.
					record(historyOp{Key: int32(k), Call: call, Write: true, Value: v, Start: start, End: time.Now().UnixNano()})
				}
				cancel()
			}
		})
	}
	wg.Wait()
	time.Sleep(time.Until(end.Add(historyBound)))
	for k := range historyKeys {
		start := time.Now().UnixNano()
		v, err := c.Fetch(context.Background(), "k"+strconv.Itoa(k), loader)
		if err != nil {
			t.Fatalf("final Fetch of k%d: %v", k, err)
		}
		record(historyOp{Key: int32(k), Final: true, Value: v, Start: start, End: time.Now().UnixNano()})
	}
	writeOps(t, ops)
}

// TestConsistencyHistory runs historyProcesses processes against one
// server (standalone, then cluster), kills every connection every
// killEvery, and checks the histories.
func TestConsistencyHistory(t *testing.T) {
	for _, large := range []bool{false, true} {
		t.Run(map[bool]string{false: "small values", true: "large values"}[large], func(t *testing.T) { testConsistencyHistory(t, large) })
	}
}

func testConsistencyHistory(t *testing.T, large bool) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		duration := pick(4*time.Second, 30*time.Second)
		if large {
			duration = pick(4*time.Second, 15*time.Second)
		}
		const killEvery = 700 * time.Millisecond
		name := redistest.Name(t)
		dir := t.TempDir()
		src := historySource{redis: srv.Raw(t), name: name}
		ctx := context.Background()
		for k := range historyKeys {
			if err := src.write(ctx, "k"+strconv.Itoa(k), int64(k+1)); err != nil {
				t.Fatal(err)
			}
		}
		outs := make([]string, historyProcesses)
		var end time.Time
		children := redistest.StartChildren(t, historyProcesses, func(p int) []string {
			if end.IsZero() {
				end = time.Now().Add(duration + 3*time.Second) // + the others' start-up
			}
			outs[p] = filepath.Join(dir, "ops"+strconv.Itoa(p))
			return []string{envHelper + "=history", srv.Env(), envName + "=" + name,
				envProcess + "=" + strconv.Itoa(p), envOut + "=" + outs[p],
				envHistoryEnd + "=" + strconv.FormatInt(end.UnixNano(), 10), envHistoryLarge + "=" + map[bool]string{false: "0", true: "1"}[large]}
		})
		redistest.Release(t, children)
		kills := waitKillingClients(t, srv, children, "history", killEvery, end.Add(-killEvery), end.Add(historyBound+time.Minute))
		ops := readOps[historyOp](t, outs)
		logs := make([][]int64, historyKeys)
		for k := range logs {
			var err error
			if logs[k], err = src.log(ctx, "k"+strconv.Itoa(k)); err != nil {
				t.Fatal(err)
			}
		}
		reads, writes, violations := checkConsistency(ops, logs)
		for i, v := range violations {
			if i == 10 {
				t.Errorf("… and %d more", len(violations)-10)
				break
			}
			t.Error(v)
		}
		if reads == 0 || writes == 0 || kills == 0 {
			t.Fatalf("the test did nothing: %d reads, %d writes, %d kills", reads, writes, kills)
		}
		variant := map[bool]string{false: "small values", true: "large values"}[large]
		figure(t, "consistency history ("+variant+", "+t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]+")",
			"%d processes × %d goroutines on %d keys for %s, kills every %s: %d reads and %d writes checked, %d violations",
			historyProcesses, historyGoroutines, historyKeys, duration, killEvery, reads, writes, len(violations))
	})
}

// checkConsistency checks ops against the source's logs (see the file's
// comment) and returns the reads and writes checked and the violations.
func checkConsistency(ops []historyOp, logs [][]int64) (reads, writes int, violations []string) {
	pos := make([]map[int64]int, len(logs))
	for k, log := range logs {
		pos[k] = make(map[int64]int, len(log))
		for i, v := range log {
			pos[k][v] = i
		}
	}
	at := func(o historyOp) int {
		if p, ok := pos[o.Key][o.Value]; ok {
			return p
		}
		return -1
	}
	// For every key: all writes, and each process's writes and reads, as
	// the newest position among the ops that ended before a time.
	type series = map[int32]*newestBefore
	all, own, seen := series{}, map[int8]series{}, map[int8]series{}
	add := func(s series, o historyOp) {
		if s[o.Key] == nil {
			s[o.Key] = &newestBefore{}
		}
		s[o.Key].add(o.End, at(o))
	}
	joined := mayHaveJoinedLoad(ops)
	for i, o := range ops {
		if own[o.Process] == nil {
			own[o.Process], seen[o.Process] = series{}, series{}
		}
		switch {
		case o.Write:
			writes++
			add(all, o)
			add(own[o.Process], o)
		case o.Value != 0 && !o.Loaded && !joined[i]:
			// A loaded value comes from the source, which may be ahead of
			// the cache while a write is still on its way to it: a load
			// whose store a write refused (write beats load), or that ran
			// while Redis failed, still answers its callers. Monotonic reads
			// hold among the values the cache served.
			add(seen[o.Process], o)
		}
	}
	for _, r := range ops {
		if r.Write || r.Value == 0 {
			continue
		}
		reads++
		p := at(r)
		if p < 0 {
			violations = append(violations, fmt.Sprintf("process %d read %#x under k%d, a value no write produced", r.Process, r.Value, r.Key))
			continue
		}
		if r.Final && p != len(logs[r.Key])-1 {
			violations = append(violations, fmt.Sprintf("process %d read k%d = #%d after quiescence, want the last value #%d", r.Process, r.Key, p, len(logs[r.Key])-1))
		}
		if q := own[r.Process][r.Key].before(r.Start); q > p {
			violations = append(violations, fmt.Sprintf("process %d read k%d = #%d after its own write #%d completed (read your writes)", r.Process, r.Key, p, q))
		}
		if q := seen[r.Process][r.Key].before(r.Start); q > p {
			violations = append(violations, fmt.Sprintf("process %d read k%d = #%d after it had read #%d (monotonic reads)%s", r.Process, r.Key, p, q, explain(ops, r, at, p, q)))
		}
		if q := all[r.Key].before(r.Start - int64(historyBound)); q > p {
			violations = append(violations, fmt.Sprintf("process %d read k%d = #%d, older than #%d written more than %s before", r.Process, r.Key, p, q, historyBound))
		}
	}
	return reads, writes, violations
}

// mayHaveJoinedLoad reports, per op, a read that no load of its key
// overlapped in its process but that may still have been answered by one:
// it began while a read of the same process got the same value from a load
// (Loaded), so it may have joined that read's flight after the loader had
// returned, while the flight was still storing the value.
func mayHaveJoinedLoad(ops []historyOp) []bool {
	type loadedValue struct {
		process int8
		key     int32
		value   int64
	}
	loads := map[loadedValue][]historyOp{}
	for _, o := range ops {
		if !o.Write && o.Loaded {
			k := loadedValue{o.Process, o.Key, o.Value}
			loads[k] = append(loads[k], o)
		}
	}
	joined := make([]bool, len(ops))
	for i, o := range ops {
		if o.Write || o.Loaded {
			continue
		}
		for _, l := range loads[loadedValue{o.Process, o.Key, o.Value}] {
			if l.Start <= o.Start && o.Start <= l.End {
				joined[i] = true
				break
			}
		}
	}
	return joined
}

// newestBefore answers "the newest position among the ops that ended
// before t" for one series of ops; add every op before the first question.
type newestBefore struct {
	ops    []endPos
	newest []int // newest[i]: the newest position among ops[:i+1], by end
}

type endPos struct {
	end int64
	pos int
}

func (n *newestBefore) add(end int64, pos int) { n.ops = append(n.ops, endPos{end, pos}) }

func (n *newestBefore) before(t int64) int {
	if n == nil {
		return -1
	}
	if n.newest == nil {
		slices.SortFunc(n.ops, func(a, b endPos) int { return cmp.Compare(a.end, b.end) })
		best := -1
		for _, o := range n.ops {
			best = max(best, o.pos)
			n.newest = append(n.newest, best)
		}
	}
	i := sort.Search(len(n.ops), func(i int) bool { return n.ops[i].end >= t })
	if i == 0 {
		return -1
	}
	return n.newest[i-1]
}

// explain describes the ops behind a violation: the read, the reads of
// position q by the same process, and the writes of positions p to q.
func explain(ops []historyOp, r historyOp, at func(historyOp) int, p, q int) string {
	var b strings.Builder
	describe := func(what string, o historyOp) {
		fmt.Fprintf(&b, "\n\t%s: process %d %c #%d loaded=%v [%d, %d]", what, o.Process, o.Call, at(o), o.Loaded, o.Start%1e10, o.End%1e10)
	}
	describe("read", r)
	for _, o := range ops {
		switch {
		case o.Key != r.Key:
		case !o.Write && o.Process == r.Process && at(o) == q && o.End < r.Start:
			describe("earlier read", o)
		case o.Write && at(o) >= p && at(o) <= q:
			describe("write", o)
		case !o.Write && at(o) == p && o.Start < r.Start && o.End > r.Start-int64(historyBound):
			describe("other read of the older value", o)
		}
	}
	return b.String()
}
