package otel_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/otel"
)

// cacheTally is the observer the metrics observer passes calls on to: it
// holds what the cache reported, to compare with what was recorded, and the
// name cache.New gave it (on the test's goroutine).
type cacheTally struct {
	cache.NoopObserver
	name          string
	mu            sync.Mutex
	loadSeconds   float64
	all, byKey    int
	stale, failed int
}

func (c *cacheTally) WithName(name string) cache.Observer {
	c.name = name
	return c
}

func (c *cacheTally) OnLoad(d time.Duration, _ error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadSeconds += d.Seconds()
}

func (c *cacheTally) OnInvalidation(all bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if all {
		c.all++
	} else {
		c.byKey++
	}
}

func (c *cacheTally) OnStale(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failed++
	} else {
		c.stale++
	}
}

func newCache(t *testing.T, client *typecache.Client, name string, opts cache.Options[string]) *cache.Cache[string] {
	t.Helper()
	opts.TTL, opts.EarlyRefreshBeta = time.Hour, -1 // no early refresh: loads are only the test's
	c, err := cache.New[string](client, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func loader(v string, err error) cache.Loader[string] {
	return cache.LoaderFunc[string](func(context.Context, string) (string, error) { return v, err })
}

var errSource = errors.New("source is down")

// documentedBuckets are the load.duration bounds the package doc lists.
var documentedBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// TestCacheInstruments drives a cache through every event its Observer
// reports and checks each typecache.cache.* instrument point by point:
// exact counts where the test decides them, the cache's own Stats (and
// what the observer passed on) where Redis's timing does.
func TestCacheInstruments(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		m, reader := newMetrics(t)
		name := redistest.Name(t)
		tally := &cacheTally{}
		c := newCache(t, srv.Client(t), name, cache.Options[string]{StaleTTL: time.Hour, MaxValueBytes: 64, Observer: m.CacheObserver(tally)})
		other := newCache(t, srv.Client(t), name, cache.Options[string]{})

		for _, f := range []struct {
			key    string
			loader cache.Loader[string]
		}{
			{"a", loader("v", nil)},                        // a load: ok
			{"nobody", loader("", cache.ErrNotFound)},      // a load: not_found
			{"broken", loader("", errSource)},              // a load: error
			{"big", loader(strings.Repeat("x", 100), nil)}, // a load: ok; not stored: too_large
		} {
			c.Fetch(background, f.key, f.loader)
		}

		// A write while the loader runs: the load's value is not stored.
		started, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
		go func() {
			_, err := c.Fetch(background, "raced", cache.LoaderFunc[string](func(context.Context, string) (string, error) {
				close(started)
				<-release
				return "old", nil
			}))
			done <- err
		}()
		<-started
		if err := other.Set(background, "raced", "new"); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		redistest.Eventually(t, 5*time.Second, func() error { // remote hits, then a local one
			c.Get(background, "a")
			if c.Stats().LocalHits == 0 {
				return errors.New("no local hit")
			}
			return nil
		})
		if err := other.Set(background, "a", "w"); err != nil { // drops c's local entry
			t.Fatal(err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if c.Stats().Invalidations == 0 {
				return errors.New("no invalidation")
			}
			return nil
		})

		raw := srv.Raw(t)
		space, err := keyspace.New(keyspace.Cache, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := raw.Do(background, raw.B().Set().Key(space.Key("", "junk")).Value("not an envelope").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(background, "junk"); !errors.Is(err, cache.ErrNotFound) { // a decode error
			t.Fatalf("Get of undecodable bytes: %v", err)
		}

		// A value past its TTL is served stale while its refresh runs; once
		// the refresh failed, with ErrStale.
		if err := c.Set(background, "s", "old", cache.WithTTL(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if _, err := c.Fetch(background, "s", loader("", errSource)); !errors.Is(err, cache.ErrStale) {
				return fmt.Errorf("Fetch of an expired value = %v, want ErrStale", err)
			}
			return nil
		})

		srv.FlushAll(t) // Redis tells every tracking client to drop everything
		redistest.Eventually(t, 5*time.Second, func() error {
			tally.mu.Lock()
			defer tally.mu.Unlock()
			if tally.all == 0 {
				return errors.New("no invalidation of the whole local tier")
			}
			return nil
		})

		c.Close() // waits for the background refreshes: the counts are final
		st := c.Stats()
		s := collect(t, reader)
		tally.mu.Lock()
		defer tally.mu.Unlock()
		n := attribute.String("typecache.cache.name", name)
		result := func(r string) string { return set(n, attribute.String("typecache.cache.load.result", r)) }
		errorType := func(e string) string { return set(n, attribute.String("error.type", e)) }
		scope := func(s string) string { return set(n, attribute.String("typecache.cache.invalidation.scope", s)) }
		reason := func(r string) string { return set(n, attribute.String("typecache.cache.stale.reason", r)) }
		loadErrors := int64(st.LoadErrors) // the failed load and each failed refresh
		if tally.name != name {
			t.Errorf("the observer passed on was named %q, want the cache's name %q", tally.name, name)
		}
		if loadErrors < 2 || tally.stale == 0 || tally.failed == 0 || st.LocalHits == 0 || st.RemoteHits == 0 {
			t.Fatalf("the test did not drive every event: %+v, tally %+v", st, tally)
		}
		s.expectSums(t, map[string]map[string]int64{
			"typecache.cache.hits": {
				set(n, attribute.String("typecache.cache.tier", "local")):  int64(st.LocalHits),
				set(n, attribute.String("typecache.cache.tier", "remote")): int64(st.RemoteHits),
			},
			"typecache.cache.misses":         {set(n): int64(st.Misses)},
			"typecache.cache.loads":          {result("ok"): 3, result("not_found"): 1, result("error"): loadErrors},
			"typecache.cache.errors":         {errorType("load"): loadErrors, errorType("decode"): 1},
			"typecache.cache.store.failures": {errorType("too_large"): 1, errorType("superseded"): 1},
			"typecache.cache.stale":          {reason("refreshing"): int64(tally.stale), reason("refresh_failed"): int64(tally.failed)},
			"typecache.cache.invalidations":  {scope("key"): int64(tally.byKey), scope("all"): int64(tally.all)},
		})
		if got := st.Misses; got < 5 {
			t.Errorf("Stats.Misses = %d, want at least the 5 loads' misses", got)
		}
		if got, want := int64(st.StaleServed), int64(tally.stale+tally.failed); got != want {
			t.Errorf("Stats.StaleServed = %d, the observer heard %d", got, want)
		}
		if got, want := int64(st.Invalidations), int64(tally.all+tally.byKey); got != want {
			t.Errorf("Stats.Invalidations = %d, the observer heard %d", got, want)
		}

		durations := s.histogram(t, "typecache.cache.load.duration")
		var count uint64
		var sum float64
		for r, want := range map[string]int64{"ok": 3, "not_found": 1, "error": loadErrors} {
			p := durations[result(r)]
			if int64(p.Count) != want || !slices.Equal(p.Bounds, documentedBuckets) {
				t.Errorf("load.duration{%s}: count %d, bounds %v; want %d, the documented bounds", r, p.Count, p.Bounds, want)
			}
			count, sum = count+p.Count, sum+p.Sum
		}
		if count != st.Loads || len(durations) != 3 || math.Abs(sum-tally.loadSeconds) > 1e-9 {
			t.Errorf("load.duration: %d points, %d loads taking %vs; the cache made %d loads taking %vs", len(durations), count, sum, st.Loads, tally.loadSeconds)
		}
	})
}

// TestCacheBreakerOpens: a cache whose Redis is gone opens its breaker,
// once.
func TestCacheBreakerOpens(t *testing.T) {
	m, reader := newMetrics(t)
	srv := redistest.NewStandalone(t)
	name := redistest.Name(t)
	c := newCache(t, srv.Client(t, typecache.WithBreaker(1, 0)), name, cache.Options[string]{Observer: m.CacheObserver(nil)})
	srv.Stop()
	for range 3 {
		if _, err := c.Get(background, "k"); err == nil {
			t.Fatal("Get succeeded without Redis")
		}
	}
	want := map[string]int64{set(attribute.String("typecache.cache.name", name)): 1}
	if diff := cmp.Diff(want, collect(t, reader).sums(t, "typecache.cache.breaker.opens")); diff != "" || c.Stats().BreakerOpens != 1 {
		t.Errorf("breaker.opens (-want +got):\n%s\nStats.BreakerOpens = %d", diff, c.Stats().BreakerOpens)
	}
}

// TestCacheStoreFailureCauses: every cause of a store failure has its
// error.type (those a test cannot make a real cache meet in a few
// milliseconds are reported directly).
func TestCacheStoreFailureCauses(t *testing.T) {
	m, reader := newMetrics(t)
	obs := m.CacheObserver(nil).(cache.NamedObserver).WithName("c")
	for _, err := range []error{
		fmt.Errorf("cache: store %q: %w", "k", cache.ErrTooLarge),
		cache.ErrSuperseded,
		fmt.Errorf("cache: store %q: %w", "k", cache.ErrUnavailable),
		errors.New("cache: store \"k\": READONLY"), errors.New("connection reset"),
	} {
		obs.OnStoreFailure("k", err)
	}
	errorType := func(e string) string {
		return set(attribute.String("typecache.cache.name", "c"), attribute.String("error.type", e))
	}
	want := map[string]int64{errorType("too_large"): 1, errorType("superseded"): 1, errorType("unavailable"): 1, errorType("other"): 2}
	if diff := cmp.Diff(want, collect(t, reader).sums(t, "typecache.cache.store.failures")); diff != "" {
		t.Errorf("store.failures (-want +got):\n%s", diff)
	}
}

// keyLog is a KeyObserver that keeps the keys it is told.
type keyLog struct {
	cache.NoopObserver
	mu          sync.Mutex
	keys        []string
	loadsByNext atomic.Int64
}

func (l *keyLog) OnLoad(time.Duration, error) { l.loadsByNext.Add(1) }
func (l *keyLog) OnMissKey(key string)        { l.add("miss " + key) }
func (l *keyLog) OnLoadKey(key string, _ time.Duration, _ error) {
	l.add("load " + key)
}

func (l *keyLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, s)
}

// keysWhenNamed is a cache.NamedObserver whose observer of a name wants
// keys, though it does not.
type keysWhenNamed struct{ cache.NoopObserver }

func (keysWhenNamed) WithName(string) cache.Observer { return &keyLog{} }

// TestCacheObserverPassesKeysOn: with a KeyObserver as next (once named),
// the metrics observer is a KeyObserver that hands the keys to next, and no
// key reaches an attribute; with a plain Observer, it is not a KeyObserver.
func TestCacheObserverPassesKeysOn(t *testing.T) {
	m, reader := newMetrics(t)
	for _, tt := range []struct {
		name                   string
		next                   cache.Observer
		unnamedKeys, namedKeys bool
	}{
		{"plain next", cache.NoopObserver{}, false, false},
		{"no next", nil, false, false},
		{"KeyObserver next", &keyLog{}, true, true},
		{"next whose named observer is a KeyObserver", keysWhenNamed{}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			unnamed := m.CacheObserver(tt.next)
			_, unnamedKeys := unnamed.(cache.KeyObserver)
			_, namedKeys := unnamed.(cache.NamedObserver).WithName("c").(cache.KeyObserver)
			if unnamedKeys != tt.unnamedKeys || namedKeys != tt.namedKeys {
				t.Errorf("KeyObserver: unnamed %v, named %v; want %v, %v (one without a KeyObserver to pass keys to makes the cache spend on keys for nothing)",
					unnamedKeys, namedKeys, tt.unnamedKeys, tt.namedKeys)
			}
		})
	}
	name := redistest.Name(t)
	keys := &keyLog{}
	c := newCache(t, redistest.Standalone(t).Client(t), name, cache.Options[string]{Observer: m.CacheObserver(keys)})
	const secret = "user-4242-personal"
	if _, err := c.Fetch(background, secret, loader("v", nil)); err != nil {
		t.Fatal(err)
	}
	keys.mu.Lock()
	got := slices.Sorted(slices.Values(keys.keys))
	keys.mu.Unlock()
	if diff := cmp.Diff([]string{"load " + secret, "miss " + secret}, got); diff != "" || keys.loadsByNext.Load() != 1 {
		t.Errorf("keys passed on (-want +got):\n%s\nloads passed on: %d", diff, keys.loadsByNext.Load())
	}
	for name, metric := range collect(t, reader) {
		if strings.Contains(fmt.Sprintf("%+v", metric.Data), secret) {
			t.Errorf("%s holds the key: %+v", name, metric.Data)
		}
	}
}

// TestNilMetrics: the observers of a nil Metrics are the observers they
// were given, so a program can leave metrics off.
func TestNilMetrics(t *testing.T) {
	var m *otel.Metrics
	tally := &cacheTally{}
	if m.CacheObserver(tally) != cache.Observer(tally) || m.CacheObserver(nil) != nil ||
		m.LockObserver(nil) != nil || m.RateLimitObserver(nil) != nil || m.SessionObserver(nil) != nil ||
		m.CounterObserver(nil) != nil || m.LeaderboardObserver(nil) != nil {
		t.Error("a nil Metrics returned an observer of its own")
	}
}
