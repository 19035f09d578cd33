package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/testkit/cputime"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// stampedeContenders each protect a cold key from concurrent loads.
var stampedeContenders = []cacheContender{typecacheLocal, goRedisCacheRemote}

// stampedeChildEnv carries a stampedeChild, as JSON, to a re-executed test
// binary; TestHelperProcess runs only when it is set.
const stampedeChildEnv = "BENCH_STAMPEDE_CHILD"

// stampedeConfig shapes one stampede: processes × goroutines callers ask for
// the same cold key at the same moment, rounds times, each round on a new key.
type stampedeConfig struct {
	Processes   int
	Goroutines  int
	Rounds      int
	LoaderDelay time.Duration
	// Warm has the parent store each round's value before the round, so
	// that no process should call its loader: a check that the processes
	// and the parent share the key.
	Warm bool
}

// stampedeChild is what one child process needs to know.
type stampedeChild struct {
	stampedeConfig
	Contender string
	Prefix    string // of every coordination and value key of the run
	Index     int
}

// stampedeReport is what a child sends back after each round.
type stampedeReport struct {
	Index       int
	LoaderCalls int64
	LatenciesNS []int64
	CPUNS       int64 // the child's CPU time in the round
	Err         string
}

// stampedeResult sums up every round of every child.
type stampedeResult struct {
	LoaderCalls int64
	Latencies   []time.Duration
	CPU         time.Duration // of the children in their rounds
}

// Percentile returns the q-quantile (0 < q ≤ 1) of the caller latencies.
func (r stampedeResult) Percentile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	sorted := slices.Clone(r.Latencies)
	slices.Sort(sorted)
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// BenchmarkStampede runs rounds of 4 processes × 64 goroutines that fetch one
// cold key whose loader takes 100 ms. One op is one round; loader-calls/op is
// the loader calls of a round summed over the processes, p50-ms and p99-ms
// are the latencies every caller saw, and client-cpu-µs/op is the CPU time
// of the 4 processes in a round.
func BenchmarkStampede(b *testing.B) {
	for _, c := range stampedeContenders {
		b.Run(c.name, func(b *testing.B) {
			res, err := runStampede(b, c.name, stampedeConfig{Processes: 4, Goroutines: 64, Rounds: b.N, LoaderDelay: 100 * time.Millisecond})
			if err != nil {
				b.Fatalf("%s: %v", c.name, err)
			}
			b.ReportMetric(float64(res.LoaderCalls)/float64(b.N), "loader-calls/op")
			b.ReportMetric(float64(res.Percentile(0.50))/float64(time.Millisecond), "p50-ms")
			b.ReportMetric(float64(res.Percentile(0.99))/float64(time.Millisecond), "p99-ms")
		})
	}
}

// TestStampedeHarness runs one small cold round and one warm round per
// contender. Cold: every caller of every process gets the loader's value, and
// the loader runs at least once and at most once per process. Warm (the
// parent stored the value first): no process loads, which proves that the
// processes really share the key.
func TestStampedeHarness(t *testing.T) {
	for _, c := range stampedeContenders {
		t.Run(c.name, func(t *testing.T) {
			cold := stampedeConfig{Processes: 2, Goroutines: 8, Rounds: 1, LoaderDelay: 50 * time.Millisecond}
			res, err := runStampede(t, c.name, cold)
			if err != nil {
				t.Fatal(err)
			}
			if want := cold.Processes * cold.Goroutines; len(res.Latencies) != want {
				t.Errorf("%d callers reported, want %d", len(res.Latencies), want)
			}
			if res.LoaderCalls < 1 || res.LoaderCalls > int64(cold.Processes) {
				t.Errorf("cold round: loader called %d times, want 1 to %d", res.LoaderCalls, cold.Processes)
			}
			// The callers of the loading process start before its loader, so
			// the longest wait covers the whole load. (The median does not: on
			// a loaded machine the other process's goroutines may start well
			// after the loader did, and wait less than its delay.)
			if p := res.Percentile(1); p < cold.LoaderDelay {
				t.Errorf("cold round: the longest caller waited %v, less than the loader's %v: nobody waited for the load", p, cold.LoaderDelay)
			}
			warm := cold
			warm.Warm = true
			if res, err = runStampede(t, c.name, warm); err != nil {
				t.Fatal(err)
			}
			if res.LoaderCalls != 0 {
				t.Errorf("warm round: loader called %d times although the parent stored the value", res.LoaderCalls)
			}
		})
	}
}

// runStampede starts cfg.Processes copies of the test binary, releases them
// into each round at the same moment through Redis lists, and gathers their
// reports. When tb is a *testing.B, only the rounds are timed.
func runStampede(tb testing.TB, contender string, cfg stampedeConfig) (stampedeResult, error) {
	srv := server(tb)
	coord := srv.raw
	prefix := redistest.Prefix(tb)
	var warmer userStore
	if cfg.Warm {
		c, err := findStampedeContender(contender)
		if err != nil {
			return stampedeResult{}, err
		}
		warmer = c.open(tb, srv)
	}
	children := make([]*stampedeProcess, cfg.Processes)
	defer func() {
		for _, child := range children {
			if child != nil {
				child.kill()
			}
		}
	}()
	for i := range children {
		spec, err := json.Marshal(stampedeChild{stampedeConfig: cfg, Contender: contender, Prefix: prefix, Index: i})
		if err != nil {
			return stampedeResult{}, err
		}
		if children[i], err = startStampedeProcess(srv.redisURL(), string(spec)); err != nil {
			return stampedeResult{}, err
		}
	}
	ctx := context.Background()
	for range children {
		if _, err := popWatching(ctx, coord, prefix+"ready", children); err != nil {
			return stampedeResult{}, fmt.Errorf("waiting for the child processes to connect: %w", err)
		}
	}
	b, timed := tb.(*testing.B)
	var spent cost
	if timed {
		spent = srv.startCost(b)
	}
	var res stampedeResult
	for round := range cfg.Rounds {
		if warmer != nil {
			if err := warmer.Set(ctx, stampedeKey(prefix, round), sampleUser(int64(round))); err != nil {
				return res, fmt.Errorf("round %d: warming the key: %w", round, err)
			}
		}
		starts := make(rueidis.Commands, len(children))
		for i := range children {
			starts[i] = coord.B().Rpush().Key(prefix + "start:" + strconv.Itoa(i)).Element(strconv.Itoa(round)).Build()
		}
		for _, reply := range coord.DoMulti(ctx, starts...) {
			if err := reply.Error(); err != nil {
				return res, fmt.Errorf("round %d: releasing the children: %w", round, err)
			}
		}
		for range children {
			msg, err := popWatching(ctx, coord, prefix+"results", children)
			if err != nil {
				return res, fmt.Errorf("round %d: %w", round, err)
			}
			var report stampedeReport
			if err := json.Unmarshal([]byte(msg), &report); err != nil {
				return res, fmt.Errorf("round %d: bad report %q: %w", round, msg, err)
			}
			if report.Err != "" {
				return res, fmt.Errorf("round %d: process %d: %s", round, report.Index, report.Err)
			}
			res.LoaderCalls += report.LoaderCalls
			res.CPU += time.Duration(report.CPUNS)
			for _, ns := range report.LatenciesNS {
				res.Latencies = append(res.Latencies, time.Duration(ns))
			}
		}
	}
	if timed {
		b.StopTimer()
		reportCPU(b, res.CPU, srv.redisCPU(b)-spent.redis)
	}
	for i, child := range children {
		if err := child.wait(); err != nil {
			return res, fmt.Errorf("process %d: %w", i, err)
		}
	}
	return res, nil
}

// popWatching pops one element from list, failing when a child process exits
// early or nothing arrives within a minute.
func popWatching(ctx context.Context, coord rueidis.Client, list string, children []*stampedeProcess) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		reply, err := coord.Do(ctx, coord.B().Blpop().Key(list).Timeout(1).Build()).AsStrSlice()
		if err == nil {
			return reply[1], nil
		}
		if !rueidis.IsRedisNil(err) {
			return "", err
		}
		for i, child := range children {
			if err := child.exitedEarly(); err != nil {
				return "", fmt.Errorf("process %d: %w", i, err)
			}
		}
	}
	return "", errors.New("no message from the child processes within a minute")
}

// stampedeProcess is one re-executed test binary running TestHelperProcess.
type stampedeProcess struct {
	cmd    *exec.Cmd
	output bytes.Buffer
	done   chan struct{}
	err    error
}

func startStampedeProcess(redisURL, spec string) (*stampedeProcess, error) {
	p := &stampedeProcess{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=10m")
	p.cmd.Env = append(os.Environ(), "REDIS_URL="+redisURL, stampedeChildEnv+"="+spec)
	p.cmd.Stdout, p.cmd.Stderr = &p.output, &p.output
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", os.Args[0], err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exitedEarly returns an error if the process has exited.
func (p *stampedeProcess) exitedEarly() error {
	select {
	case <-p.done:
		return fmt.Errorf("exited early (%v):\n%s", p.err, p.output.String())
	default:
		return nil
	}
}

// wait waits for a normal exit.
func (p *stampedeProcess) wait() error {
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		return fmt.Errorf("still running a minute after its last round:\n%s", p.output.String())
	}
	if p.err != nil {
		return fmt.Errorf("%v:\n%s", p.err, p.output.String())
	}
	return nil
}

func (p *stampedeProcess) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// TestHelperProcess is one child process of a stampede; it does nothing
// unless runStampede started it.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(stampedeChildEnv)
	if spec == "" {
		t.Skip("a child process of runStampede")
	}
	var child stampedeChild
	if err := json.Unmarshal([]byte(spec), &child); err != nil {
		t.Fatalf("%s: %v", stampedeChildEnv, err)
	}
	contender, err := findStampedeContender(child.Contender)
	if err != nil {
		t.Fatal(err)
	}
	srv := server(t)
	coord := srv.raw
	store := contender.open(t, srv)
	ctx := context.Background()
	if err := coord.Do(ctx, coord.B().Rpush().Key(child.Prefix+"ready").Element(strconv.Itoa(child.Index)).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for range child.Rounds {
		round, err := coord.Do(ctx, coord.B().Blpop().Key(child.Prefix+"start:"+strconv.Itoa(child.Index)).Timeout(60).Build()).AsStrSlice()
		if err != nil {
			t.Fatalf("waiting for the start of a round: %v", err)
		}
		n, err := strconv.Atoi(round[1])
		if err != nil {
			t.Fatalf("bad round number %q", round[1])
		}
		report := stampedeRound(ctx, store, child, n)
		msg, err := json.Marshal(report)
		if err != nil {
			t.Fatal(err)
		}
		if err := coord.Do(ctx, coord.B().Rpush().Key(child.Prefix+"results").Element(string(msg)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
}

func findStampedeContender(name string) (cacheContender, error) {
	i := slices.IndexFunc(stampedeContenders, func(c cacheContender) bool { return c.name == name })
	if i < 0 {
		return cacheContender{}, fmt.Errorf("unknown stampede contender %q", name)
	}
	return stampedeContenders[i], nil
}

// stampedeKey is the cold key of one round: a new key each round, so that
// no local tier of any process holds it.
func stampedeKey(prefix string, round int) string { return prefix + "round:" + strconv.Itoa(round) }

// stampedeRound has child.Goroutines goroutines fetch the round's key at once
// and reports their latencies and how often this process's loader ran.
func stampedeRound(ctx context.Context, store userStore, child stampedeChild, round int) stampedeReport {
	key := stampedeKey(child.Prefix, round)
	want := sampleUser(int64(round))
	var loaderCalls atomic.Int64
	load := func(context.Context) (User, error) {
		loaderCalls.Add(1)
		time.Sleep(child.LoaderDelay) // the slow source of truth
		return want, nil
	}
	report := stampedeReport{Index: child.Index, LatenciesNS: make([]int64, child.Goroutines)}
	cpu := cputime.Process()
	errs := make([]error, child.Goroutines)
	var wg sync.WaitGroup
	for g := range child.Goroutines {
		wg.Go(func() {
			start := time.Now()
			got, err := store.Fetch(ctx, key, load)
			report.LatenciesNS[g] = int64(time.Since(start))
			if err == nil && !equalUser(got, want) {
				err = fmt.Errorf("Fetch returned %+v", got)
			}
			errs[g] = err
		})
	}
	wg.Wait()
	report.CPUNS = int64(cputime.Process() - cpu)
	report.LoaderCalls = loaderCalls.Load()
	if err := errors.Join(errs...); err != nil {
		report.Err = err.Error()
	}
	return report
}
