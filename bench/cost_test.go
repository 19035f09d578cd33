package bench

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/cputime"
)

// callerCounts are the goroutines that run each workload's operations: one
// at a time (latency), and 64 at once (throughput; on a small machine far
// more than its cores, as the handlers of a busy server are).
var callerCounts = []int{1, 64}

// callersName names the sub-benchmark of n callers.
func callersName(n int) string {
	if n == 1 {
		return "1-goroutine"
	}
	return strconv.Itoa(n) + "-goroutines"
}

// An op is one operation of a workload, as one caller makes it.
type op func(ctx context.Context) error

// A workload is what benchCallers runs for one contender.
type workload struct {
	// contender names the contender; it starts the message of a failed op.
	contender string
	// prepare returns the op of caller i (0, 1, …), with any state of its
	// own (a session, a lock name). It runs once per caller, before the
	// timed runs of the first sub-benchmark that needs that caller.
	prepare func(tb testing.TB, caller int) op
	// measure, if set, runs before each timed run of the given number of
	// callers and returns what reports the workload's own metrics after
	// it, or nil.
	measure func(b *testing.B, callers int) (report func())
}

// benchCallers runs w as one sub-benchmark per entry of callerCounts, each
// making b.N operations in all from that many goroutines, after one untimed
// op of each, and reports their cost (see cost).
func benchCallers(b *testing.B, srv *benchServer, w workload) {
	var ops []op
	for _, n := range callerCounts {
		b.Run(callersName(n), func(b *testing.B) {
			for len(ops) < n {
				ops = append(ops, w.prepare(b, len(ops)))
			}
			ctx := context.Background()
			// Warm up: every caller makes one op at once, untimed, so that
			// the clients hold the connections n callers need, as they do
			// in a server that has been up for a while.
			var warm sync.WaitGroup
			for _, o := range ops[:n] {
				warm.Go(func() {
					if err := o(ctx); err != nil {
						b.Errorf("%s: %v", w.contender, err)
					}
				})
			}
			warm.Wait()
			// Each caller takes grain operations at a time, so that the
			// shared counter costs nothing next to the fastest op.
			grain := int64(max(1, b.N/(n*64)))
			var next atomic.Int64
			var wg sync.WaitGroup
			var report func()
			if w.measure != nil {
				report = w.measure(b, n)
			}
			b.ReportAllocs()
			c := srv.startCost(b)
			for _, o := range ops[:n] {
				wg.Go(func() {
					for {
						start := next.Add(grain) - grain
						if start >= int64(b.N) {
							return
						}
						for range min(grain, int64(b.N)-start) {
							if err := o(ctx); err != nil {
								b.Errorf("%s: %v", w.contender, err)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			c.report(b, n == 1)
			if report != nil {
				report()
			}
		})
	}
}

// sameOp is a prepare function for workloads whose callers share all state.
func sameOp(o op) func(testing.TB, int) op {
	return func(testing.TB, int) op { return o }
}

// cost is what a benchmark's operations use besides wall-clock time: the
// CPU time of this process (getrusage) and of the Redis server (INFO cpu),
// and the requests written to Redis. On a machine shared with other work
// the CPU times vary much less than the wall clock.
type cost struct {
	srv           *benchServer
	client, redis time.Duration
	writes        int64
}

// startCost resets b's timer and starts measuring.
func (s *benchServer) startCost(b *testing.B) cost {
	c := cost{srv: s, redis: s.redisCPU(b), writes: s.writes.Load()}
	b.ResetTimer()
	c.client = cputime.Process()
	return c
}

// report stops b's timer and reports, per operation, the CPU time of this
// process (client-cpu-µs/op) and of Redis (redis-cpu-µs/op), and the
// operations per second of wall-clock time (ops/s). With roundTrips (one
// request in flight at a time), it also reports round-trips/op: requests
// written to Redis per operation.
func (c cost) report(b *testing.B, roundTrips bool) {
	client := cputime.Process() - c.client
	b.StopTimer()
	reportCPU(b, client, c.srv.redisCPU(b)-c.redis)
	if roundTrips {
		c.srv.reportRoundTrips(b, c.writes)
	}
}

// reportCPU reports client and Redis CPU time per operation, and the
// operations per second of b's timed wall-clock time.
func reportCPU(b *testing.B, client, redis time.Duration) {
	n := float64(b.N)
	b.ReportMetric(float64(client)/n/1e3, "client-cpu-µs/op")
	b.ReportMetric(float64(redis)/n/1e3, "redis-cpu-µs/op")
	b.ReportMetric(n/b.Elapsed().Seconds(), "ops/s")
}

// redisCPU returns the CPU time, user and system, that every node of the
// server has used (INFO cpu).
func (s *benchServer) redisCPU(tb testing.TB) time.Duration {
	var total time.Duration
	for addr, node := range s.raw.Nodes() {
		info, err := node.Do(context.Background(), node.B().Info().Section("cpu").Build()).ToString()
		if err != nil {
			tb.Fatalf("INFO cpu of %s: %v", addr, err)
		}
		total += infoSeconds(tb, info, "used_cpu_sys") + infoSeconds(tb, info, "used_cpu_user")
	}
	return total
}

// infoSeconds returns the field name of an INFO reply, in seconds.
func infoSeconds(tb testing.TB, info, name string) time.Duration {
	return time.Duration(infoField(tb, info, name) * float64(time.Second))
}

// infoField returns the numeric field name of an INFO reply.
func infoField(tb testing.TB, info, name string) float64 {
	for line := range strings.Lines(info) {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				tb.Fatalf("INFO %s: %q: %v", name, value, err)
			}
			return v
		}
	}
	tb.Fatalf("INFO has no %s field:\n%s", name, info)
	return 0
}
