package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// countingLoader returns fn's result and counts its calls.
type countingLoader[T any] struct {
	calls atomic.Int64
	fn    func(ctx context.Context, key string) (T, error)
}

func (l *countingLoader[T]) Load(ctx context.Context, key string) (T, error) {
	l.calls.Add(1)
	return l.fn(ctx, key)
}

func TestFetchColdKeyLoadsOnce(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		c := newCache(t, srv.Client(t), cacheName(t), cache.Options[user]{TTL: time.Hour})
		const goroutines = 1000
		var started sync.WaitGroup
		started.Add(goroutines)
		allStarted := make(chan struct{})
		go func() { started.Wait(); close(allStarted) }()
		loader := &countingLoader[user]{fn: func(context.Context, string) (user, error) {
			<-allStarted
			return user{ID: 7}, nil
		}}
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for range goroutines {
			wg.Go(func() {
				started.Done()
				got, err := c.Fetch(ctx, "cold", loader)
				if err == nil && got.ID != 7 {
					err = fmt.Errorf("got %v", got)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := loader.calls.Load(); n != 1 {
			t.Fatalf("loader called %d times for %d goroutines, want 1", n, goroutines)
		}
	})
}

func TestFetchNegativeCaching(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		c := newCache(t, srv.Client(t), cacheName(t), cache.Options[user]{TTL: time.Hour, NegativeTTL: time.Minute})
		loader := &countingLoader[user]{fn: func(context.Context, string) (user, error) {
			return user{}, fmt.Errorf("no such user: %w", cache.ErrNotFound)
		}}
		for i := range 3 {
			if _, err := c.Fetch(ctx, "ghost", loader); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("Fetch %d: err = %v, want ErrNotFound", i, err)
			}
		}
		if n := loader.calls.Load(); n != 1 {
			t.Fatalf("loader called %d times, want 1: ErrNotFound is cached", n)
		}
		if _, err := c.Get(ctx, "ghost"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get of a cached absence: %v", err)
		}
		if st := c.Stats(); st.LoadErrors != 0 || st.Loads != 1 {
			t.Fatalf("stats %+v: ErrNotFound is a load, not a load error", st)
		}
	})
}

func TestFetchErrorsAreNotCached(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		c := newCache(t, srv.Client(t), cacheName(t), cache.Options[user]{TTL: time.Hour})
		boom := errors.New("database down")
		loader := &countingLoader[user]{fn: func(context.Context, string) (user, error) { return user{}, boom }}
		for i := range 3 {
			if _, err := c.Fetch(ctx, "k", loader); !errors.Is(err, boom) {
				t.Fatalf("Fetch %d: err = %v, want the loader's", i, err)
			}
		}
		if n := loader.calls.Load(); n != 3 {
			t.Fatalf("loader called %d times, want 3: errors are not cached", n)
		}
		if st := c.Stats(); st.LoadErrors != 3 {
			t.Fatalf("LoadErrors = %d, want 3", st.LoadErrors)
		}
	})
}

// TestFetchPanicReachesEveryWaiter: a loader's panic is re-raised in every
// goroutine waiting for the load, and the process survives.
func TestFetchPanicReachesEveryWaiter(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[user]{TTL: time.Hour})
	const goroutines = 20
	var started sync.WaitGroup
	started.Add(goroutines)
	release := make(chan struct{})
	go func() { started.Wait(); close(release) }()
	loader := cache.LoaderFunc[user](func(context.Context, string) (user, error) {
		<-release
		panic("loader exploded")
	})
	var panics atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			defer func() {
				if p := recover(); p == "loader exploded" {
					panics.Add(1)
				}
			}()
			started.Done()
			_, _ = c.Fetch(ctx, "k", loader)
		})
	}
	wg.Wait()
	if n := panics.Load(); n != goroutines {
		t.Fatalf("%d of %d waiters saw the panic", n, goroutines)
	}
}

// TestFetchWaiterGivesUp: a caller whose context ends stops waiting, without
// cancelling the load that others share.
func TestFetchWaiterGivesUp(t *testing.T) {
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[user]{TTL: time.Hour})
	loading, release := make(chan struct{}), make(chan struct{})
	var loadCtxErr atomic.Value
	loader := &countingLoader[user]{fn: func(ctx context.Context, _ string) (user, error) {
		close(loading)
		<-release
		loadCtxErr.Store(fmt.Sprint(ctx.Err()))
		return user{ID: 1}, nil
	}}
	firstCtx, cancelFirst := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := c.Fetch(firstCtx, "k", loader)
		firstDone <- err
	}()
	<-loading
	secondDone := make(chan error, 1)
	go func() {
		got, err := c.Fetch(context.Background(), "k", loader)
		if err == nil && got.ID != 1 {
			err = fmt.Errorf("got %v", got)
		}
		secondDone <- err
	}()
	cancelFirst()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: err = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-secondDone; err != nil {
		t.Fatalf("other caller: %v", err)
	}
	if got := loadCtxErr.Load(); got != "<nil>" {
		t.Fatalf("the load's context ended with the first caller's: %v", got)
	}
	if n := loader.calls.Load(); n != 1 {
		t.Fatalf("loader called %d times, want 1", n)
	}
}

// fakeClock is a test clock that starts at the real time (Redis's expiries
// come from the real clock) and moves only when told.
type fakeClock struct{ now atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.now.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() int64              { return c.now.Load() }
func (c *fakeClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// TestFetchStaleWindow: past the TTL and within the stale window, Fetch
// serves the old value while one background refresh runs; when that refresh
// fails, the stale value comes with an error wrapping ErrStale and the
// loader's error; a successful refresh ends it.
func TestFetchStaleWindow(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		for _, local := range []bool{true, false} {
			t.Run(map[bool]string{true: "local", false: "no-local"}[local], func(t *testing.T) {
				clock := newFakeClock()
				c := newCache(t, srv.Client(t), cacheName(t), cache.Options[int]{
					TTL: time.Minute, StaleTTL: time.Minute, Jitter: -1, EarlyRefreshBeta: -1, DisableLocal: !local,
				})
				c.SetClock(clock.Now)
				boom := errors.New("source down")
				var fail atomic.Bool
				var version atomic.Int64
				loader := &countingLoader[int]{fn: func(context.Context, string) (int, error) {
					if fail.Load() {
						return 0, boom
					}
					return int(version.Add(1)), nil
				}}
				if v, err := c.Fetch(ctx, "k", loader); err != nil || v != 1 {
					t.Fatalf("first Fetch = %d, %v", v, err)
				}
				clock.Advance(61 * time.Second) // past the TTL, inside the stale window
				fail.Store(true)
				if v, err := c.Fetch(ctx, "k", loader); err != nil || v != 1 {
					t.Fatalf("Fetch in the stale window = %d, %v; want the stale value while refreshing", v, err)
				}
				c.WaitRefreshes()
				v, err := c.Fetch(ctx, "k", loader)
				if v != 1 || !errors.Is(err, cache.ErrStale) || !errors.Is(err, boom) {
					t.Fatalf("Fetch after a failed refresh = %d, %v; want 1 with ErrStale and the loader's error", v, err)
				}
				c.WaitRefreshes()
				if st := c.Stats(); st.StaleServed != 2 || st.LoadErrors != 2 {
					t.Fatalf("stats %+v: want 2 stale served and 2 failed refreshes", st)
				}
				fail.Store(false)
				_, _ = c.Fetch(ctx, "k", loader) // starts a refresh that succeeds
				c.WaitRefreshes()
				if v, err := c.Fetch(ctx, "k", loader); err != nil || v != 2 {
					t.Fatalf("Fetch after a successful refresh = %d, %v; want 2", v, err)
				}
			})
		}
	})
}

// TestGetTreatsStaleAsMiss: Get does not serve values past their TTL.
func TestGetTreatsStaleAsMiss(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[int]{TTL: time.Minute, StaleTTL: time.Minute, Jitter: -1})
	c.SetClock(clock.Now)
	if err := c.Set(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "k", 1)
	clock.Advance(61 * time.Second)
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get past the TTL: %v, want ErrNotFound (the stale window is Fetch's)", err)
	}
}

// TestRoundTrips counts round trips at the connections (see
// countingClient): a cold miss costs two (the read that takes the load
// lease, then the store that ends it), with or without the stampede lock; a
// remote hit one; every write one, but a Put of a key the local tier does
// not hold, which reads the key's write mark first.
func TestRoundTrips(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		loader := cache.LoaderFunc[user](func(context.Context, string) (user, error) { return user{ID: 1}, nil })
		save := cache.WriterFunc[user](func(context.Context, string, user) error { return nil })
		for _, tt := range []struct {
			name string
			opts cache.Options[user]
		}{{"with-lock", cache.Options[user]{}}, {"without-lock", cache.Options[user]{DisableStampedeLock: true}}, {"no-local", cache.Options[user]{DisableLocal: true}}} {
			t.Run(tt.name, func(t *testing.T) {
				client, writes := countingClient(t, srv)
				tt.opts.TTL = time.Hour
				c := newCache(t, client, cacheName(t), tt.opts)
				// Connects and loads the scripts on every node.
				if err := c.Clear(ctx); err != nil {
					t.Fatal(err)
				}
				for i := range 30 {
					key := "warm-up" + strconv.Itoa(i)
					if _, err := c.Fetch(ctx, key, loader); err != nil {
						t.Fatal(err)
					}
					if err := c.Put(ctx, key, user{}, save); err != nil {
						t.Fatal(err)
					}
				}
				putInTier := int64(1) // the mark came with the value
				if tt.opts.DisableLocal {
					putInTier = 2 // one more to read the mark
				}
				for _, step := range []struct {
					what   string
					rounds int64
					do     func() error
				}{
					{"cold miss", 2, func() error { _, err := c.Fetch(ctx, "k", loader); return err }},
					{"remote hit", 1, func() error { _, err := c.Fetch(ctx, "k", loader); return err }},
					{"Gets until the key is in the local tier", -1, func() error {
						// The invalidation of the cold miss's own store may
						// come after the remote hit and drop what it read.
						for i := 0; !tt.opts.DisableLocal && c.Stats().LocalHits == 0; i++ {
							if _, err := c.Get(ctx, "k"); err != nil || i == 1000 {
								return fmt.Errorf("no local hit after %d Gets: %v", i, err)
							}
						}
						return nil
					}},
					{"Put of a key in the local tier", putInTier, func() error { return c.Put(ctx, "k", user{ID: 3}, save) }},
					{"Set", 1, func() error { return c.Set(ctx, "k", user{ID: 2}) }},
					{"Put of a key not in the local tier", 2, func() error { return c.Put(ctx, "k", user{ID: 3}, save) }},
					{"Delete", 1, func() error { return c.Delete(ctx, "k") }},
					{"Get of a missing key", 1, func() error { _, err := c.Get(ctx, "k"); return ignoreNotFound(err) }},
					{"SetMany of one key", 1, func() error { return c.SetMany(ctx, map[string]user{"k": {ID: 4}}) }},
					{"GetMany of one key held in Redis", 1, func() error { _, err := c.GetMany(ctx, []string{"k"}); return err }},
					{"Clear", 1, func() error { return c.Clear(ctx) }},
				} {
					before := sum(writes())
					if err := step.do(); err != nil {
						t.Fatalf("%s: %v", step.what, err)
					}
					if got := sum(writes()) - before; step.rounds >= 0 && got != step.rounds {
						t.Errorf("%s: %d round trips, want %d", step.what, got, step.rounds)
					}
				}
			})
		}
	})
}

func ignoreNotFound(err error) error {
	if errors.Is(err, cache.ErrNotFound) {
		return nil
	}
	return err
}

func sum(counts []int64) (total int64) {
	for _, n := range counts {
		total += n
	}
	return total
}

// TestRedisDown: with the server stopped, Fetch answers from the loader and
// the breaker soon stops trying; Get fails; once the server is back the
// cache works again.
func TestRedisDown(t *testing.T) {
	ctx := context.Background()
	srv := redistest.NewStandalone(t)
	c := newCache(t, srv.Client(t, typecache.WithBreaker(2, 20*time.Millisecond)), cacheName(t), cache.Options[int]{
		TTL: time.Hour, RedisTimeout: 200 * time.Millisecond,
	})
	loader := &countingLoader[int]{fn: func(context.Context, string) (int, error) { return 42, nil }}
	if v, err := c.Fetch(ctx, "k", loader); err != nil || v != 42 {
		t.Fatalf("Fetch = %d, %v", v, err)
	}
	node := srv.Nodes()[0]
	node.Stop()
	for i := range 10 {
		// context.Background: only RedisTimeout bounds the calls to Redis,
		// which rueidis would otherwise retry for ever.
		v, err := c.Fetch(ctx, "other"+strconv.Itoa(i), loader)
		if err != nil || v != 42 {
			t.Fatalf("Fetch %d with Redis down = %d, %v; want the loader's value", i, v, err)
		}
	}
	if st := c.Stats(); st.BreakerOpens == 0 {
		t.Fatalf("stats %+v: the breaker never opened", st)
	}
	if _, err := c.Get(ctx, "k"); err == nil || errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get with Redis down: %v, want an error", err)
	}
	if _, err := c.GetMany(ctx, []string{"a", "b"}); !errors.Is(err, cache.ErrUnavailable) || err.Error() != "cache: get 2 keys: redis unavailable (circuit open)" {
		t.Fatalf("GetMany with the breaker open: %v, want one sentence wrapping ErrUnavailable", err)
	}
	if err := c.Set(ctx, "k", 1); err == nil {
		t.Fatal("Set with Redis down succeeded")
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Set works again", func() bool { return c.Set(ctx, "k", 2) == nil })
	mustGet(t, c, "k", 2)
}

// TestFetchEarlyRefresh: shortly before the TTL ends, a Fetch of a value that
// was slow to load starts a background refresh (XFetch) and still returns
// the current value; long before, it does not.
func TestFetchEarlyRefresh(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[int]{
		TTL: time.Hour, Jitter: -1, EarlyRefreshBeta: 1000, DisableLocal: true,
	})
	c.SetClock(clock.Now)
	var version atomic.Int64
	loader := &countingLoader[int]{fn: func(context.Context, string) (int, error) {
		time.Sleep(10 * time.Millisecond) // a slow query: Δ ≥ 10 ms, so β·Δ ≥ 10 s
		return int(version.Add(1)), nil
	}}
	if v, err := c.Fetch(ctx, "k", loader); err != nil || v != 1 {
		t.Fatalf("Fetch = %d, %v", v, err)
	}
	// An hour before expiry, with β·Δ under 100 s: P(refresh) < e⁻³⁶.
	if v, err := c.Fetch(ctx, "k", loader); err != nil || v != 1 {
		t.Fatalf("Fetch = %d, %v", v, err)
	}
	c.WaitRefreshes()
	if n := loader.calls.Load(); n != 1 {
		t.Fatalf("early refresh an hour before expiry: %d loads", n)
	}
	// 2 s before expiry: P(refresh) ≥ exp(−2 s / 10 s) ≈ 0.82 per Fetch.
	clock.Advance(time.Hour - 2*time.Second)
	for try := 0; loader.calls.Load() == 1; try++ {
		if try == 20 {
			t.Fatal("no early refresh in 20 Fetches 2 s before expiry")
		}
		if v, err := c.Fetch(ctx, "k", loader); err != nil || v != 1 {
			t.Fatalf("Fetch near expiry = %d, %v; want the current value", v, err)
		}
		c.WaitRefreshes()
	}
	if v, err := c.Fetch(ctx, "k", loader); err != nil || v != 2 {
		t.Fatalf("Fetch after the early refresh = %d, %v; want 2", v, err)
	}
}

// TestFetchFailsOpenWhenRedisStalls: while the server answers nothing
// (frozen), Fetch and FetchMany give their Redis read half of the
// caller's remaining time and answer from the loader with the other half,
// without taking the lease or storing (both would wait on Redis too); the
// reads' expiries count as breaker failures, so the breaker opens.
func TestFetchFailsOpenWhenRedisStalls(t *testing.T) {
	ctx := context.Background()
	srv := redistest.NewStandalone(t)
	c := newCache(t, srv.Client(t, typecache.WithBreaker(3, 0)), cacheName(t), cache.Options[int]{TTL: time.Hour})
	for _, k := range []string{"a", "b"} {
		if err := c.Set(ctx, k, 1); err != nil {
			t.Fatal(err)
		}
	}
	loader := &countingLoader[int]{fn: func(context.Context, string) (int, error) { return 42, nil }}
	batch := cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
		m := make(map[string]int, len(keys))
		for _, k := range keys {
			m[k] = 42
		}
		return m, nil
	})
	fetch := func(key string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			v, err := c.Fetch(ctx, key, loader)
			if err == nil && v != 42 {
				err = fmt.Errorf("value %d", v)
			}
			return err
		}
	}
	fetchMany := func(ctx context.Context) error {
		m, err := c.FetchMany(ctx, []string{"a", "b"}, batch)
		if err == nil && (m["a"] != 42 || m["b"] != 42) {
			err = fmt.Errorf("values %v", m)
		}
		return err
	}
	steps := []struct {
		name      string
		call      func(ctx context.Context) error
		wantOpens uint64 // BreakerOpens after the call
	}{
		{"FetchMany", fetchMany, 0},
		{"Fetch", fetch("a"), 0},
		{"Fetch", fetch("b"), 1}, // the third failure, 600 ms after the first
		{"Fetch with the breaker open", fetch("a"), 1},
	}
	srv.Nodes()[0].Freeze(t)
	for i, st := range steps {
		// A 600 ms deadline, which the call must not reach: the caller's
		// deadline is for the answer, not for waiting on Redis.
		ctx, cancel := context.WithTimeout(ctx, 600*time.Millisecond)
		err := st.call(ctx)
		if err == nil {
			err = ctx.Err()
		}
		cancel()
		if err != nil {
			t.Fatalf("step %d, %s during the stall: %v; want the loader's values before the deadline", i, st.name, err)
		}
		if got := c.Stats().BreakerOpens; got != st.wantOpens {
			t.Fatalf("step %d, %s: BreakerOpens = %d, want %d", i, st.name, got, st.wantOpens)
		}
	}
}
