package scale_test

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// config is the size of a scale run. SCALE selects one of three (see
// configFromEnv); SCALE_PROCS, SCALE_MEASURE and SCALE_RATE override parts
// of it.
type config struct {
	// procs lists the fleet sizes to run, each a fresh set of processes.
	procs []int
	// keys is the key space; rate each process's operations per second
	// (1% writes, 0 for unthrottled), spread over readers goroutines.
	keys, rate, readers int
	// warmup runs before the measured window, which lasts measure.
	warmup, measure time.Duration
	// lowTable is tracking-table-max-keys in the evicting phase.
	lowTable int
	// probeEvery spaces the staleness probes.
	probeEvery time.Duration
	// figures is the file the figures are appended to ("" for none).
	figures string
}

// configFromEnv returns the run SCALE asks for: "full" (make scale: 8, 32
// and 64 processes over 100k keys), "dev" (4 processes, 20k keys), or by
// default a smoke run of 2 processes that checks the harness and the
// guarantees in seconds.
func configFromEnv(t *testing.T) config {
	c := config{procs: []int{2}, keys: 2000, rate: 1000, readers: 2, warmup: 500 * time.Millisecond,
		measure: 2 * time.Second, lowTable: 200, probeEvery: 100 * time.Millisecond}
	switch mode := os.Getenv("SCALE"); mode {
	case "":
	case "dev":
		c.procs, c.keys, c.warmup, c.measure, c.lowTable = []int{4}, 20_000, 2*time.Second, 5*time.Second, 2_000
	case "full":
		c.procs, c.keys, c.rate, c.warmup, c.measure, c.lowTable, c.probeEvery =
			[]int{8, 32, 64}, 100_000, 500, 5*time.Second, 20*time.Second, 10_000, 100*time.Millisecond
	default:
		t.Fatalf("SCALE=%q: want full, dev or nothing", mode)
	}
	if v := os.Getenv("SCALE_PROCS"); v != "" {
		c.procs = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 2 || n > c.keys {
				t.Fatalf("SCALE_PROCS=%q: want a comma-separated list of numbers from 2 to %d", v, c.keys)
			}
			c.procs = append(c.procs, n)
		}
	}
	if v := os.Getenv("SCALE_MEASURE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SCALE_MEASURE=%q: want a positive duration", v)
		}
		c.measure = d
	}
	if v := os.Getenv("SCALE_RATE"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r < 0 {
			t.Fatalf("SCALE_RATE=%q: want operations per second per process, 0 for unthrottled", v)
		}
		c.rate = r
	}
	c.figures = os.Getenv("SCALE_FIGURES")
	return c
}

// phase is one configuration of the cluster and the clients that every
// fleet size runs under.
type phase struct {
	name string
	// trackingTableMaxKeys is set with CONFIG SET before the run.
	trackingTableMaxKeys int
	// bcast makes every process track in BCAST mode under the caches' key
	// space (bcastTracking) instead of rueidis's default, OPTIN.
	bcast bool
}

// bcastTracking is the children's ClientTrackingOptions in a BCAST phase:
// one prefix that covers every cache, so Redis keeps no per-key tracking
// table and sends every process an invalidation for every write under it.
var bcastTracking = []string{"BCAST", "PREFIX", "cache:"}

// defaultTrackingTable is Redis's default tracking-table-max-keys.
const defaultTrackingTable = 1_000_000

// TestScale runs the fleet at each configured size, in each phase, checks
// the guarantees and reports the figures.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and a fleet of processes; run without -short")
	}
	cfg := configFromEnv(t)
	phases := []phase{
		{name: "default table", trackingTableMaxKeys: defaultTrackingTable},
		{name: fmt.Sprintf("table %d", cfg.lowTable), trackingTableMaxKeys: cfg.lowTable},
		{name: "BCAST", trackingTableMaxKeys: defaultTrackingTable, bcast: true},
	}
	cluster := startCluster(t)
	rep := newReport(cfg)
	for _, n := range cfg.procs {
		for i, ph := range phases {
			t.Run(fmt.Sprintf("procs=%d/%s", n, strings.ReplaceAll(ph.name, " ", "-")), func(t *testing.T) {
				r := runFleet(t, cluster, cfg, ph, n, fmt.Sprintf("scale-%d-%d", n, i))
				rep.add(requireGuarantees(t, r))
			})
		}
	}
	rep.write(t)
}

// fleetRun is what one fleet size in one phase measured.
type fleetRun struct {
	cfg      config
	phase    phase
	procs    int
	children []childResult
	probes   []probeResult
	// redisAtWarm and redisAtEnd are INFO of each master at the window's
	// edges; busy is the machine's CPU use over the window (-1 unknown).
	redisAtWarm, redisAtEnd []string
	busy                    float64
	// trackingDropped is INFO of each master after its tracking table was
	// emptied, once the window ended (see dropTracking).
	trackingDropped []string
}

// runFleet runs n processes for one phase on cluster, emptied first, and
// returns their results.
func runFleet(t *testing.T, cluster fleetCluster, cfg config, ph phase, n int, name string) fleetRun {
	cluster.flush(t)
	if _, err := cluster.onMasters("CONFIG", "SET", "tracking-table-max-keys", strconv.Itoa(ph.trackingTableMaxKeys)); err != nil {
		t.Fatal(err)
	}
	prefill(t, cluster, name, cfg.keys/coldShare, cfg.keys)
	dir := t.TempDir()
	coord := listen(t, dir)
	defer coord.close()
	outs := make([]string, n)
	children := startChildren(t, n, func(i int) []string {
		outs[i] = filepath.Join(dir, "result"+strconv.Itoa(i))
		spec, err := json.Marshal(childSpec{
			Index: i, Procs: n, Cache: name, Keys: cfg.keys, Rate: cfg.rate, Readers: cfg.readers,
			Warmup: cfg.warmup, Measure: cfg.measure, Coordinator: coord.addr(), Out: outs[i], BCAST: ph.bcast,
		})
		if err != nil {
			t.Fatal(err)
		}
		return []string{cluster.env(), envChild + "=" + string(spec)}
	})
	coord.accept(t, n)
	start := time.Now()
	release(t, children)
	warm, end := start.Add(cfg.warmup), start.Add(cfg.warmup+cfg.measure)
	run := fleetRun{cfg: cfg, phase: ph, procs: n}

	time.Sleep(time.Until(warm))
	run.redisAtWarm = redisInfo(t, cluster)
	cpuAtWarm := machineCPU()
	// The last probe starts a second before the end, so that it does not
	// run into the children's end of their workloads.
	for j := 0; time.Now().Before(end.Add(-time.Second)); j++ {
		run.probes = append(run.probes, coord.probe(t, j))
		time.Sleep(cfg.probeEvery)
	}
	time.Sleep(time.Until(end))
	run.redisAtEnd = redisInfo(t, cluster)
	run.busy = cpuAtWarm.busySince(machineCPU())

	coord.awaitDone(t, time.Minute)
	run.trackingDropped = dropTracking(t, cluster)
	coord.close()
	for i, c := range children {
		if err := c.Wait(); err != nil {
			t.Fatalf("scale: child %d failed: %v", i, err)
		}
	}
	run.children = make([]childResult, n)
	for i, out := range outs {
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		err = gob.NewDecoder(f).Decode(&run.children[i])
		f.Close()
		if err != nil {
			t.Fatalf("scale: result of child %d: %v", i, err)
		}
	}
	return run
}

// dropTracking lowers tracking-table-max-keys to 1 on every master, waits
// until Redis has evicted the rest of its tracking table, and returns INFO
// of each master then: the used_memory it freed is what the table held.
// Call it once the children are done: it sends invalidations for every
// tracked key.
func dropTracking(t *testing.T, cluster fleetCluster) []string {
	if _, err := cluster.onMasters("CONFIG", "SET", "tracking-table-max-keys", "1"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		info := redisInfo(t, cluster)
		emptied := true
		for _, i := range info {
			emptied = emptied && infoField(i, "tracking_total_keys") <= 1
		}
		if emptied || time.Now().After(deadline) {
			return info
		}
	}
}

// coldShare sets the cold part of the key space: keys [0, keys/coldShare),
// the hottest, start absent from Redis, so that the fleet's first reads
// of them all miss at once and load; the others start in Redis, stored
// before any process tracks them, so that an invalidation of one that
// nobody writes is an eviction from Redis's tracking table.
const coldShare = 10

// prefill stores version 0 of keys [from, to) in the cache name.
func prefill(t *testing.T, cluster fleetCluster, name string, from, to int) {
	c, err := newCache(cluster.client(t), name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const batch = 1000
	for lo := from; lo < to; lo += batch {
		values := make(map[string]entry, batch)
		for i := lo; i < min(lo+batch, to); i++ {
			values[keyName(i)] = entry{Key: keyName(i), Pad: padding}
		}
		if err := c.SetMany(context.Background(), values); err != nil {
			t.Fatal(err)
		}
	}
}

// redisInfo returns INFO of every master.
func redisInfo(t *testing.T, cluster fleetCluster) []string {
	info, err := cluster.onMasters("INFO", "cpu", "memory", "stats", "clients")
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// infoField returns the number under name in INFO's "name:value" lines.
func infoField(info, name string) float64 {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// cpuTimes is the machine's CPU time from /proc/stat, in clock ticks.
type cpuTimes struct{ busy, total float64 }

// machineCPU reads /proc/stat; zero where there is none.
func machineCPU() cpuTimes {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	var c cpuTimes
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		c.total += x
		if i != 3 && i != 4 { // idle, iowait
			c.busy += x
		}
	}
	return c
}

// busySince returns the share of the machine's CPU in use between c and
// later, or -1 when unknown.
func (c cpuTimes) busySince(later cpuTimes) float64 {
	if later.total <= c.total {
		return -1
	}
	return (later.busy - c.busy) / (later.total - c.total)
}

// cores is the machine's processor count, reported beside the figures.
var cores = runtime.NumCPU()
