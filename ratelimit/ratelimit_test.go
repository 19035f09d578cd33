package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/testkit/testclock"
	"github.com/typecache/typecache/ratelimit"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// epoch is the fake clock's start: a multiple of a minute, so the sliding
// counter's windows start at offsets 0, 60 s, 120 s...
var epoch = time.Unix(1_700_000_040, 0)

func newLimiter(t *testing.T, srv *redistest.Server, opts ratelimit.Options) *ratelimit.Limiter {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = redistest.Name(t)
	}
	l, err := ratelimit.New(srv.Client(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	valid := ratelimit.Options{Limit: 10, Period: time.Second}
	tests := []struct {
		name  string
		edit  func(o *ratelimit.Options)
		field string
	}{
		{"limit zero", func(o *ratelimit.Options) { o.Limit = 0 }, "Options.Limit"},
		{"limit negative", func(o *ratelimit.Options) { o.Limit = -1 }, "Options.Limit"},
		{"period zero", func(o *ratelimit.Options) { o.Period = 0 }, "Options.Period"},
		{"period negative", func(o *ratelimit.Options) { o.Period = -time.Second }, "Options.Period"},
		{"period below 1µs per request", func(o *ratelimit.Options) { o.Limit, o.Period = 1000, time.Microsecond }, "Options.Period/Options.Limit"},
		{"burst negative", func(o *ratelimit.Options) { o.Burst = -1 }, "Options.Burst"},
		{"burst with a window algorithm", func(o *ratelimit.Options) { o.Algorithm, o.Burst = ratelimit.FixedWindow, 5 }, "Options.Burst"},
		{"unknown algorithm", func(o *ratelimit.Options) { o.Algorithm = 99 }, "Options.Algorithm"},
		{"negative algorithm", func(o *ratelimit.Options) { o.Algorithm = -1 }, "Options.Algorithm"},
		{"hash tag in prefix", func(o *ratelimit.Options) { o.Prefix = "rl{shared}" }, "Options.Prefix"},
		{"separator in prefix", func(o *ratelimit.Options) { o.Prefix = "rl:login" }, "Options.Prefix"},
		{"prefix too long", func(o *ratelimit.Options) { o.Prefix = strings.Repeat("p", 101) }, "Options.Prefix"},
		{"unknown failure mode", func(o *ratelimit.Options) { o.FailureMode = 7 }, "Options.FailureMode"},
		{"negative deny cache size", func(o *ratelimit.Options) { o.LocalDenyCacheSize = -1 }, "Options.LocalDenyCacheSize"},
	}
	client := redistest.Standalone(t).Client(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := valid
			tt.edit(&opts)
			before := opts
			_, err := ratelimit.New(client, opts)
			if !errors.Is(err, ratelimit.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("New(%+v) = %v, want ErrInvalidOptions naming %s", opts, err, tt.field)
			}
			if opts != before {
				t.Fatalf("New modified the options: %+v, was %+v", opts, before)
			}
		})
	}
	t.Run("nil client", func(t *testing.T) {
		_, err := ratelimit.New(nil, valid)
		if !errors.Is(err, ratelimit.ErrInvalidOptions) || err.Error() != "ratelimit: invalid options: New needs a *typecache.Client, got nil" {
			t.Fatalf("New(nil client) = %v", err)
		}
	})
}

func TestNewDefaults(t *testing.T) {
	client := redistest.Standalone(t).Client(t)
	l, err := ratelimit.New(client, ratelimit.Options{Limit: 7, Period: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := l.Options()
	if got.Algorithm != ratelimit.GCRA || got.Burst != 7 || got.Prefix != "default" ||
		got.FailureMode != ratelimit.FailOpen || got.LocalDenyCacheSize != 10_000 || got.Observer != (ratelimit.NoopObserver{}) {
		t.Fatalf("defaults = %+v", got)
	}
	l, err = ratelimit.New(client, ratelimit.Options{Algorithm: ratelimit.FixedWindow, Limit: 7, Period: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Options().Burst; got != 0 {
		t.Fatalf("Burst of a fixed window = %d, want 0", got)
	}
}

// step is one request of a decision table, at a time since the epoch.
type step struct {
	at        time.Duration
	cost      int
	allowed   bool
	remaining int
	retry     time.Duration
	reset     time.Duration
}

// TestDecisionTables walks each algorithm that reads a clock through a
// sequence of requests on a fake clock and checks every field of every
// decision: denied requests do not consume quota, and the quota comes back
// exactly when RetryAfter said. The fixed window keeps time by its key's
// expiry instead: TestFixedWindowDecisions.
func TestDecisionTables(t *testing.T) {
	s, us := time.Second, time.Microsecond
	tables := []struct {
		name  string
		opts  ratelimit.Options
		steps []step
	}{
		{
			name: "gcra", // interval 6 s, 3 at once
			opts: ratelimit.Options{Algorithm: ratelimit.GCRA, Limit: 10, Period: time.Minute, Burst: 3},
			steps: []step{
				{at: 0, cost: 1, allowed: true, remaining: 2, reset: 6 * s},
				{at: 0, cost: 1, allowed: true, remaining: 1, reset: 12 * s},
				{at: 0, cost: 1, allowed: true, remaining: 0, reset: 18 * s},
				{at: 0, cost: 1, allowed: false, remaining: 0, retry: 6 * s, reset: 18 * s},
				{at: 0, cost: 2, allowed: false, remaining: 0, retry: 12 * s, reset: 18 * s},
				{at: 6*s - us, cost: 1, allowed: false, remaining: 0, retry: us, reset: 12*s + us},
				{at: 6 * s, cost: 1, allowed: true, remaining: 0, reset: 18 * s},
				{at: 9 * s, cost: 1, allowed: false, remaining: 0, retry: 3 * s, reset: 15 * s},
				{at: 18 * s, cost: 2, allowed: true, remaining: 0, reset: 18 * s},
				{at: 60 * s, cost: 3, allowed: true, remaining: 0, reset: 18 * s},
				{at: 200 * s, cost: 1, allowed: true, remaining: 2, reset: 6 * s},
			},
		},
		{
			name: "sliding-window-log",
			opts: ratelimit.Options{Algorithm: ratelimit.SlidingWindowLog, Limit: 3, Period: time.Minute},
			steps: []step{
				{at: 0, cost: 1, allowed: true, remaining: 2, reset: 60 * s},
				{at: 10 * s, cost: 1, allowed: true, remaining: 1, reset: 60 * s},
				{at: 10 * s, cost: 1, allowed: true, remaining: 0, reset: 60 * s}, // same µs: a distinct member
				{at: 20 * s, cost: 1, allowed: false, remaining: 0, retry: 40 * s, reset: 50 * s},
				{at: 20 * s, cost: 2, allowed: false, remaining: 0, retry: 50 * s, reset: 50 * s},
				{at: 60*s - us, cost: 1, allowed: false, remaining: 0, retry: us, reset: 10*s + us},
				{at: 60 * s, cost: 1, allowed: true, remaining: 0, reset: 60 * s},
				{at: 70 * s, cost: 2, allowed: true, remaining: 0, reset: 60 * s},
				{at: 70 * s, cost: 1, allowed: false, remaining: 0, retry: 50 * s, reset: 60 * s},
				{at: 200 * s, cost: 3, allowed: true, remaining: 0, reset: 60 * s},
			},
		},
		{
			name: "sliding-window-counter", // windows start at 0, 60 s, 120 s...
			opts: ratelimit.Options{Algorithm: ratelimit.SlidingWindowCounter, Limit: 4, Period: time.Minute},
			steps: []step{
				{at: 0, cost: 1, allowed: true, remaining: 3, reset: 120 * s},
				{at: 30 * s, cost: 3, allowed: true, remaining: 0, reset: 90 * s},
				// next window: 4×(60−e)/60 + 1 ≤ 4 from e = 15 s on
				{at: 45 * s, cost: 1, allowed: false, remaining: 0, retry: 30 * s, reset: 75 * s},
				{at: 75*s - us, cost: 1, allowed: false, remaining: 0, retry: us, reset: 45*s + us},
				{at: 75 * s, cost: 1, allowed: true, remaining: 0, reset: 105 * s},
				// 4×(60−e)/60 + 2 ≤ 4 from e = 30 s on
				{at: 80 * s, cost: 1, allowed: false, remaining: 0, retry: 10 * s, reset: 100 * s},
				{at: 90 * s, cost: 1, allowed: true, remaining: 0, reset: 90 * s},
				{at: 120 * s, cost: 1, allowed: true, remaining: 1, reset: 120 * s},
				{at: 250 * s, cost: 1, allowed: true, remaining: 3, reset: 110 * s},
			},
		},
	}
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, table := range tables {
			t.Run(table.name, func(t *testing.T) {
				l := newLimiter(t, srv, table.opts)
				clock := testclock.New(epoch)
				ratelimit.SetClock(l, clock.Now)
				for i, st := range table.steps {
					clock.Set(epoch.Add(st.at))
					got, err := l.AllowN(context.Background(), "client", st.cost)
					if err != nil {
						t.Fatalf("step %d (at %s, cost %d): %v", i, st.at, st.cost, err)
					}
					want := ratelimit.Result{
						Allowed: st.allowed, Limit: got.Limit, Remaining: st.remaining,
						RetryAfter: st.retry, ResetAfter: st.reset, Source: ratelimit.FromRedis,
					}
					if got != want {
						t.Errorf("step %d (at %s, cost %d):\n got %+v\nwant %+v", i, st.at, st.cost, got, want)
					}
				}
			})
		}
	})
}

// TestLargeConfigurations: where reset × (limit + 1) reaches 2⁵³, past
// which the scripts cannot pack a decision into one exact integer, they
// reply with tables, and the decisions are the same.
func TestLargeConfigurations(t *testing.T) {
	const limit = 1000
	period := 365 * 24 * time.Hour // × 1001 µs > 2⁵³
	interval := period / limit
	// a multiple of the period, where the sliding counter's window starts
	aligned := time.UnixMicro(54 * period.Microseconds()) // the fixed window ignores it
	tests := []struct {
		algo                    ratelimit.Algorithm
		reset, retry, lastReset time.Duration // of the allowed request, of the denied one
	}{
		{ratelimit.GCRA, period, interval, period},
		{ratelimit.SlidingWindowLog, period, period, period},
		{ratelimit.SlidingWindowCounter, 2 * period, period + interval, 2 * period},
		{ratelimit.FixedWindow, period, period, period},
	}
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, tt := range tests {
			t.Run(tt.algo.String(), func(t *testing.T) {
				l := newLimiter(t, srv, ratelimit.Options{Algorithm: tt.algo, Limit: limit, Period: period})
				ratelimit.SetClock(l, func() time.Time { return aligned })
				ctx := context.Background()
				res, err := l.AllowN(ctx, "k", limit)
				want := ratelimit.Result{Allowed: true, Limit: limit, ResetAfter: tt.reset, Source: ratelimit.FromRedis}
				if err != nil || res != want {
					t.Fatalf("AllowN(limit) = %+v, %v; want %+v", res, err, want)
				}
				res, err = l.Allow(ctx, "k")
				want = ratelimit.Result{Limit: limit, RetryAfter: tt.retry, ResetAfter: tt.lastReset, Source: ratelimit.FromRedis}
				if tt.algo == ratelimit.FixedWindow { // on Redis's clock, which moves on
					want.RetryAfter, want.ResetAfter = res.RetryAfter, res.ResetAfter
					if res.ResetAfter <= tt.lastReset-5*time.Second || res.ResetAfter > tt.lastReset || res.RetryAfter != res.ResetAfter {
						t.Fatalf("Allow after the limit = %+v; want retry = reset, about %s", res, tt.lastReset)
					}
				}
				if err != nil || res != want {
					t.Fatalf("Allow after the limit = %+v, %v; want %+v", res, err, want)
				}
			})
		}
	})
}

// TestFixedWindowDecisions walks a fixed window through its life. Its clock
// is its key's expiry on Redis's clock, which a test moves by shortening the
// key's TTL; times are in whole milliseconds, checked within a margin for
// the real time the test itself takes.
func TestFixedWindowDecisions(t *testing.T) {
	const margin = 5 * time.Second
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		l := newLimiter(t, srv, ratelimit.Options{Algorithm: ratelimit.FixedWindow, Limit: 3, Period: time.Hour})
		raw := srv.Raw(t)
		ctx := context.Background()
		key := ratelimit.RedisKey(l, "k")
		// left moves the window's end to d from now
		left := func(d time.Duration) {
			if err := raw.Do(ctx, raw.B().Pexpire().Key(key).Milliseconds(d.Milliseconds()).Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			name      string
			before    func()
			cost      int
			allowed   bool
			remaining int
			reset     time.Duration // and RetryAfter when denied
		}{
			{"opens the window", nil, 1, true, 2, time.Hour},
			{"denies a cost past what is left", nil, 3, false, 2, time.Hour},
			{"counts", nil, 2, true, 0, time.Hour},
			{"denies past the limit", nil, 1, false, 0, time.Hour},
			{"denied requests consumed nothing", func() { left(time.Minute) }, 1, false, 0, time.Minute},
			{"a new window once the key expired", func() {
				left(time.Millisecond)
				redistest.Eventually(t, 5*time.Second, func() error {
					if n, err := raw.Do(ctx, raw.B().Exists().Key(key).Build()).AsInt64(); err != nil || n != 0 {
						return fmt.Errorf("%s: EXISTS = %d, %v", key, n, err)
					}
					return nil
				})
			}, 3, true, 0, time.Hour},
		}
		for _, st := range steps {
			if st.before != nil {
				st.before()
			}
			res, err := l.AllowN(ctx, "k", st.cost)
			retry := time.Duration(0)
			if !st.allowed {
				retry = res.ResetAfter
			}
			if err != nil || res.Allowed != st.allowed || res.Remaining != st.remaining || res.Source != ratelimit.FromRedis ||
				res.ResetAfter > st.reset || res.ResetAfter <= st.reset-margin || res.RetryAfter != retry || res.ResetAfter%time.Millisecond != 0 {
				t.Fatalf("%s: AllowN(%d) = %+v, %v; want allowed %v, %d remaining, reset (and retry when denied) %s",
					st.name, st.cost, res, err, st.allowed, st.remaining, st.reset)
			}
		}
		if ttl, err := raw.Do(ctx, raw.B().Pttl().Key(key).Build()).AsInt64(); err != nil || ttl <= (time.Hour-margin).Milliseconds() {
			t.Fatalf("PTTL after the window opened again = %d, %v; want about an hour", ttl, err)
		}
	})
}

func TestResultLimit(t *testing.T) {
	srv := redistest.Standalone(t)
	tests := []struct {
		opts ratelimit.Options
		want int
	}{
		{ratelimit.Options{Algorithm: ratelimit.GCRA, Limit: 10, Burst: 4, Period: time.Minute}, 4},
		{ratelimit.Options{Algorithm: ratelimit.GCRA, Limit: 10, Period: time.Minute}, 10},
		{ratelimit.Options{Algorithm: ratelimit.SlidingWindowLog, Limit: 10, Period: time.Minute}, 10},
		{ratelimit.Options{Algorithm: ratelimit.SlidingWindowCounter, Limit: 10, Period: time.Minute}, 10},
		{ratelimit.Options{Algorithm: ratelimit.FixedWindow, Limit: 10, Period: time.Minute}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.opts.Algorithm.String(), func(t *testing.T) {
			res, err := newLimiter(t, srv, tt.opts).Allow(context.Background(), "k")
			if err != nil || res.Limit != tt.want || res.Remaining != tt.want-1 {
				t.Fatalf("Allow = %+v, %v; want Limit %d, Remaining %d", res, err, tt.want, tt.want-1)
			}
		})
	}
}

var algorithms = append(clockedAlgorithms, ratelimit.FixedWindow)

// clockedAlgorithms read the time in their scripts, so a test clock moves
// them; the fixed window keeps time by its key's expiry.
var clockedAlgorithms = []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter}

func TestBadInput(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, algo := range algorithms {
			t.Run(algo.String(), func(t *testing.T) {
				l := newLimiter(t, srv, ratelimit.Options{Algorithm: algo, Limit: 5, Period: time.Minute})
				ctx := context.Background()
				if _, err := l.Allow(ctx, ""); !errors.Is(err, ratelimit.ErrEmptyKey) {
					t.Errorf("Allow(\"\") error = %v, want ErrEmptyKey", err)
				}
				if err := l.Reset(ctx, ""); !errors.Is(err, ratelimit.ErrEmptyKey) {
					t.Errorf("Reset(\"\") error = %v, want ErrEmptyKey", err)
				}
				if _, err := l.AllowN(ctx, "k", 0); !errors.Is(err, ratelimit.ErrInvalidCost) {
					t.Errorf("AllowN(0) error = %v, want ErrInvalidCost", err)
				}
				_, err := l.AllowN(ctx, "k", 6)
				if !errors.Is(err, ratelimit.ErrCostExceedsLimit) || !strings.Contains(err.Error(), "never") {
					t.Errorf("AllowN(6) with limit 5: error = %v, want ErrCostExceedsLimit", err)
				}
				// the largest cost passes once on a fresh key
				if res, err := l.AllowN(ctx, "k", 5); err != nil || !res.Allowed || res.Remaining != 0 {
					t.Errorf("AllowN(5) with limit 5 = %+v, %v; want allowed with 0 remaining", res, err)
				}
			})
		}
	})
}

func TestReset(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, algo := range algorithms {
			t.Run(algo.String(), func(t *testing.T) {
				l := newLimiter(t, srv, ratelimit.Options{Algorithm: algo, Limit: 2, Period: time.Hour, LocalDenyCache: true})
				ctx := context.Background()
				for range 3 {
					if _, err := l.Allow(ctx, "k"); err != nil {
						t.Fatal(err)
					}
				}
				if res, _ := l.Allow(ctx, "k"); res.Allowed {
					t.Fatal("allowed after the limit")
				}
				if err := l.Reset(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				res, err := l.Allow(ctx, "k")
				if err != nil || !res.Allowed || res.Remaining != 1 || res.Source != ratelimit.FromRedis {
					t.Fatalf("Allow after Reset = %+v, %v; want allowed by Redis with 1 remaining", res, err)
				}
			})
		}
	})
}

// TestRedisClock checks that the scripts use Redis TIME when no clock is
// injected: a denied request's RetryAfter counts from the server's now.
func TestRedisClock(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, algo := range algorithms {
			t.Run(algo.String(), func(t *testing.T) {
				l := newLimiter(t, srv, ratelimit.Options{Algorithm: algo, Limit: 2, Period: time.Hour})
				ctx := context.Background()
				for range 2 {
					if res, err := l.Allow(ctx, "k"); err != nil || !res.Allowed {
						t.Fatalf("Allow = %+v, %v", res, err)
					}
				}
				res, err := l.Allow(ctx, "k")
				if err != nil || res.Allowed {
					t.Fatalf("third Allow = %+v, %v; want denied", res, err)
				}
				// GCRA frees one unit after Period/Limit; the windows after Period
				// (the counter: within its next window)
				lo, hi := 29*time.Minute, 30*time.Minute
				if algo != ratelimit.GCRA {
					lo, hi = 30*time.Minute, 2*time.Hour
				}
				if res.RetryAfter <= lo || res.RetryAfter > hi {
					t.Fatalf("RetryAfter = %s, want in (%s, %s]", res.RetryAfter, lo, hi)
				}
			})
		}
	})
}

// TestKeysExpire checks that every algorithm leaves no key behind once its
// state no longer matters: a small limit, whose key is checked to vanish,
// and a limit so large that the sliding counter keeps its two counts in
// separate fields (their packed form would pass 2⁵³), whose key is checked
// to have an expiry.
func TestKeysExpire(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		raw := srv.Raw(t)
		for _, size := range []struct {
			name   string
			limit  int
			period time.Duration
			vanish bool // wait for the key to expire
		}{
			{"small", 1, 100 * time.Millisecond, true},
			{"counts-split", 100_000_000, 200 * time.Second, false},
		} {
			for _, algo := range algorithms {
				t.Run(size.name+"/"+algo.String(), func(t *testing.T) {
					l := newLimiter(t, srv, ratelimit.Options{Algorithm: algo, Limit: size.limit, Period: size.period})
					ctx := context.Background()
					if _, err := l.Allow(ctx, "k"); err != nil {
						t.Fatal(err)
					}
					key := ratelimit.RedisKey(l, "k")
					ttl, err := raw.Do(ctx, raw.B().Pttl().Key(key).Build()).AsInt64()
					// A huge limit's GCRA key lives for one emission interval
					// (2 µs here): it may be gone already (-2), but never
					// without an expiry (-1).
					if err != nil || ttl == -1 || ttl > 2*size.period.Milliseconds() || size.vanish && ttl <= 0 {
						t.Fatalf("PTTL %s = %d, %v; want an expiry of at most %d ms", key, ttl, err, 2*size.period.Milliseconds())
					}
					if !size.vanish {
						return
					}
					redistest.Eventually(t, 5*time.Second, func() error {
						n, err := raw.Do(ctx, raw.B().Exists().Key(key).Build()).AsInt64()
						if err == nil && n != 0 {
							err = fmt.Errorf("%s still exists", key)
						}
						return err
					})
				})
			}
		}
	})
}

// TestClockGoesBack: when Redis's clock steps back (a failover to a server
// whose clock is behind), no algorithm that reads the clock forgets what it
// has counted. (The fixed window reads none: its key's expiry, replicated as
// an absolute time, lasts longer on a server whose clock is behind.)
func TestClockGoesBack(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, algo := range clockedAlgorithms {
			t.Run(algo.String(), func(t *testing.T) {
				l := newLimiter(t, srv, ratelimit.Options{Algorithm: algo, Limit: 2, Period: time.Minute})
				clock := testclock.New(epoch)
				ratelimit.SetClock(l, clock.Now)
				clock.Set(epoch.Add(5 * time.Minute))
				for range 2 {
					if res, err := l.Allow(context.Background(), "k"); err != nil || !res.Allowed {
						t.Fatalf("Allow = %+v, %v", res, err)
					}
				}
				clock.Set(epoch.Add(4 * time.Minute))
				if res, err := l.Allow(context.Background(), "k"); err != nil || res.Allowed || res.RetryAfter <= 0 {
					t.Fatalf("Allow a minute in the past = %+v, %v; want denied", res, err)
				}
			})
		}
	})
}

// TestNoPanics calls every exported function with the nil and empty
// arguments a caller can pass: each returns an error or a documented value.
func TestNoPanics(t *testing.T) {
	l := newLimiter(t, redistest.Standalone(t), ratelimit.Options{Limit: 1, Period: time.Second})
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"New(nil)", func() error { _, err := ratelimit.New(nil, ratelimit.Options{}); return err }},
		{"New(zero Options)", func() error {
			_, err := ratelimit.New(redistest.Standalone(t).Client(t), ratelimit.Options{})
			return err
		}},
		{"Middleware(nil)", func() error { _, err := ratelimit.Middleware(nil, ratelimit.MiddlewareOptions{}); return err }},
		{"Allow empty key", func() error { _, err := l.Allow(ctx, ""); return err }},
		{"AllowN cost 0", func() error { _, err := l.AllowN(ctx, "k", 0); return err }},
		{"AllowN negative cost", func() error { _, err := l.AllowN(ctx, "k", -1); return err }},
		{"Reset empty key", func() error { return l.Reset(ctx, "") }},
		{"ClientIP(nil)", func() error {
			if ip := ratelimit.ClientIP(nil, ratelimit.ClientIPSource{}); ip != "" {
				return fmt.Errorf("ClientIP(nil) = %q", ip)
			}
			return errors.New("no client")
		}},
		{"ClientKey(nil)", func() error {
			if key := ratelimit.ClientKey(nil, ratelimit.ClientIPSource{}, 0); key != "" {
				return fmt.Errorf("ClientKey(nil) = %q", key)
			}
			return errors.New("no client")
		}},
		{"LogObserver(nil)", func() error {
			ratelimit.LogObserver(nil).OnAllowed("k", 1)
			return errors.New("logged to slog.Default")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
