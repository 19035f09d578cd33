package ratelimit_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/testkit/testclock"
	"github.com/typecache/typecache/ratelimit"
)

// decision is one request of a random sequence and what the limiter said.
type decision struct {
	at      time.Duration
	cost    int
	allowed bool
}

// admittedIn sums the cost admitted in (from, to].
func admittedIn(ds []decision, from, to time.Duration) int {
	sum := 0
	for _, d := range ds {
		if d.allowed && d.at > from && d.at <= to {
			sum += d.cost
		}
	}
	return sum
}

// TestDocumentedBounds sends a random sequence of requests (many sharing a
// microsecond) on a fake clock and checks the documented bound of each
// algorithm that reads a clock over every interval the sequence defines.
// (The fixed window admits at most Limit in each of its key's lifetimes:
// TestFixedWindowDecisions, TestExactAcrossProcesses.)
func TestDocumentedBounds(t *testing.T) {
	const (
		limit    = 5
		period   = time.Minute
		interval = period / limit // GCRA's emission interval
	)
	bounds := map[ratelimit.Algorithm]func(t *testing.T, ds []decision){
		ratelimit.GCRA: func(t *testing.T, ds []decision) {
			// at most Burst (= limit) + elapsed/interval in any [from, to]
			for i, first := range ds {
				for _, last := range ds[i:] {
					got := admittedIn(ds, first.at-1, last.at)
					if bound := limit + int((last.at-first.at)/interval); got > bound {
						t.Fatalf("%d admitted in [%s, %s], bound %d", got, first.at, last.at, bound)
					}
				}
			}
		},
		ratelimit.SlidingWindowLog: func(t *testing.T, ds []decision) {
			// exact both ways: admitted iff it fits in the trailing period
			for i, d := range ds {
				before := admittedIn(ds[:i], d.at-period, d.at)
				if fits := before+d.cost <= limit; fits != d.allowed {
					t.Fatalf("request %d at %s, cost %d, %d in the trailing period: allowed %v", i, d.at, d.cost, before, d.allowed)
				}
			}
		},
		ratelimit.SlidingWindowCounter: func(t *testing.T, ds []decision) {
			for _, d := range ds {
				window := d.at.Truncate(period)
				if got := admittedIn(ds, window-1, window+period-1); got > limit {
					t.Fatalf("%d admitted in the aligned window at %s", got, window)
				}
				if got := admittedIn(ds, d.at-period, d.at); got > 2*limit {
					t.Fatalf("%d admitted in the period before %s", got, d.at)
				}
			}
		},
	}
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, algo := range clockedAlgorithms {
			t.Run(algo.String(), func(t *testing.T) {
				l := newLimiter(t, srv, ratelimit.Options{Algorithm: algo, Limit: limit, Period: period})
				clock := testclock.New(epoch)
				ratelimit.SetClock(l, clock.Now)
				rng := rand.New(rand.NewPCG(1, uint64(algo)))
				var ds []decision
				at := time.Duration(0)
				for range 150 {
					if rng.IntN(3) > 0 { // a third of the requests share the previous one's µs
						at += time.Duration(rng.Int64N(int64(period / 4))).Truncate(time.Microsecond)
					}
					clock.Set(epoch.Add(at))
					cost := 1 + rng.IntN(3)
					res, err := l.AllowN(context.Background(), "k", cost)
					if err != nil {
						t.Fatal(err)
					}
					ds = append(ds, decision{at: at, cost: cost, allowed: res.Allowed})
				}
				allowed := 0
				for _, d := range ds {
					if d.allowed {
						allowed++
					}
				}
				if allowed == 0 || allowed == len(ds) {
					t.Fatalf("%d of %d allowed: the sequence tests nothing", allowed, len(ds))
				}
				bounds[algo](t, ds)
			})
		}
	})
}
