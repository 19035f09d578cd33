package ratelimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
)

// helperEnv carries a helperJob to a re-executed test binary.
const helperEnv = "RATELIMIT_TEST_HELPER"

// helperJob is what one helper process does: for every limiter at once,
// Requests decisions from Goroutines goroutines against one key, after the
// parent says go.
type helperJob struct {
	Limiters   []helperLimiter
	Key        string
	Requests   int
	Goroutines int
}

// helperLimiter is one limiter of a helperJob.
type helperLimiter struct {
	Options ratelimit.Options
	// FrozenNowUS, when not 0, replaces Redis TIME in the scripts: every
	// request then happens at the same instant, so the count admitted is
	// exactly the limit whatever the machine's speed, and atomicity is all
	// that is tested.
	FrozenNowUS int64
}

// TestHelperProcess is the body of the processes TestExactAcrossProcesses
// starts; run directly, it does nothing.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		return
	}
	var job helperJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		t.Fatal(err)
	}
	client := redistest.ServerFromEnv().Client(t)
	limiters := make([]*ratelimit.Limiter, len(job.Limiters))
	for i, spec := range job.Limiters {
		var err error
		if limiters[i], err = ratelimit.New(client, spec.Options); err != nil {
			t.Fatal(err)
		}
		if spec.FrozenNowUS != 0 {
			frozen := time.UnixMicro(spec.FrozenNowUS)
			ratelimit.SetClock(limiters[i], func() time.Time { return frozen })
		}
	}
	if err := redistest.Ready(); err != nil {
		t.Fatal(err)
	}
	allowed := make([]atomic.Int64, len(limiters))
	failed := make([]atomic.Int64, len(limiters))
	var wg sync.WaitGroup
	for i, l := range limiters {
		var left atomic.Int64
		left.Store(int64(job.Requests))
		for range job.Goroutines {
			wg.Go(func() {
				for left.Add(-1) >= 0 {
					res, err := l.Allow(context.Background(), job.Key)
					switch {
					case err != nil || res.Source != ratelimit.FromRedis:
						failed[i].Add(1)
					case res.Allowed:
						allowed[i].Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	for i := range limiters {
		fmt.Printf("limiter %d allowed %d failed %d\n", i, allowed[i].Load(), failed[i].Load())
	}
}

// TestExactAcrossProcesses: 4 OS processes × 16 goroutines send 2,000
// requests in total at one key limited to 100 per 10 s; exactly 100 pass.
// The processes drive one limiter per case at the same time.
func TestExactAcrossProcesses(t *testing.T) {
	const (
		processes = 4
		limit     = 100
		total     = 2000
	)
	cases := []struct {
		name   string
		algo   ratelimit.Algorithm
		frozen bool
	}{
		{"gcra", ratelimit.GCRA, true},
		{"sliding-window-log", ratelimit.SlidingWindowLog, true},
		// within one aligned window the counter's bound is the limit itself
		{"sliding-window-counter", ratelimit.SlidingWindowCounter, true},
		// the fixed window reads no clock: its window is its key's lifetime,
		// longer than the run
		{"fixed-window", ratelimit.FixedWindow, false},
		// the log is exact on the real clock too, as long as the run takes
		// less than the period
		{"sliding-window-log/redis-time", ratelimit.SlidingWindowLog, false},
	}
	const period = 10 * time.Second
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		job := helperJob{
			Key:        "shared",
			Requests:   total / processes,
			Goroutines: 16,
		}
		for _, c := range cases {
			spec := helperLimiter{Options: ratelimit.Options{
				Algorithm: c.algo, Limit: limit, Period: period, Prefix: redistest.Name(t),
			}}
			if c.frozen {
				spec.FrozenNowUS = epoch.UnixMicro()
			}
			job.Limiters = append(job.Limiters, spec)
		}
		start := time.Now()
		allowed, failed := runHelpers(t, srv, job, processes)
		elapsed := time.Since(start)
		for i, c := range cases {
			if failed[i] != 0 {
				t.Errorf("%s: %d requests failed or fell back", c.name, failed[i])
			}
			if !c.frozen && elapsed >= period {
				t.Errorf("%s: the run took %s, longer than the period: the count proves nothing", c.name, elapsed)
			}
			if allowed[i] != limit {
				t.Errorf("%s: %d of %d requests allowed by %d processes, want exactly %d", c.name, allowed[i], total, processes, limit)
			}
		}
	})
}

// runHelpers runs job in n helper processes on srv at once and sums, per limiter,
// what they report.
func runHelpers(t *testing.T, srv *redistest.Server, job helperJob, n int) (allowed, failed []int) {
	t.Helper()
	spec, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	helpers := redistest.StartChildren(t, n, func(int) []string { return []string{helperEnv + "=" + string(spec), srv.Env()} })
	redistest.Release(t, helpers)
	allowed, failed = make([]int, len(job.Limiters)), make([]int, len(job.Limiters))
	for i, h := range helpers {
		reports := 0
		for h.Output.Scan() {
			var l, a, f int
			if _, err := fmt.Sscanf(h.Output.Text(), "limiter %d allowed %d failed %d", &l, &a, &f); err != nil {
				continue // the testing package's own output
			}
			allowed[l] += a
			failed[l] += f
			reports++
		}
		if err := h.Wait(); err != nil || reports != len(job.Limiters) {
			t.Fatalf("helper %d: exit %v, %d reports of %d", i, err, reports, len(job.Limiters))
		}
	}
	return allowed, failed
}
