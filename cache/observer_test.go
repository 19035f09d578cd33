package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// recordingObserver counts the events it is told about.
type recordingObserver struct {
	cache.NoopObserver
	local, remote, misses, loads, decodeErrors, invalidations atomic.Int64
}

func (o *recordingObserver) OnHit(tier cache.Tier) {
	if tier == cache.TierLocal {
		o.local.Add(1)
	} else {
		o.remote.Add(1)
	}
}
func (o *recordingObserver) OnMiss()                           { o.misses.Add(1) }
func (o *recordingObserver) OnLoad(time.Duration, error)       { o.loads.Add(1) }
func (o *recordingObserver) OnDecodeError(key string, _ error) { o.decodeErrors.Add(1) }
func (o *recordingObserver) OnInvalidation(bool)               { o.invalidations.Add(1) }

func TestObserverAndStatsAgree(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		obs := &recordingObserver{}
		c := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Hour, Observer: obs})
		other := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Hour})
		loader := cache.LoaderFunc[string](func(context.Context, string) (string, error) { return "v", nil })

		if _, err := c.Fetch(ctx, "a", loader); err != nil { // miss + load
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "a local hit", func() bool { // remote hits, then local
			_, _ = c.Get(ctx, "a")
			return obs.local.Load() > 0
		})
		if err := other.Set(ctx, "a", "w"); err != nil { // invalidates c's entry
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "an invalidation", func() bool { return obs.invalidations.Load() > 0 })
		raw := srv.Raw(t)
		if err := raw.Do(ctx, raw.B().Set().Key(c.RedisKey("junk")).Value("junk").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "junk"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatal(err)
		}

		st := c.Stats()
		for _, check := range []struct {
			what     string
			observed int64
			counted  uint64
		}{
			{"local hits", obs.local.Load(), st.LocalHits},
			{"remote hits", obs.remote.Load(), st.RemoteHits},
			{"misses", obs.misses.Load(), st.Misses},
			{"loads", obs.loads.Load(), st.Loads},
			{"decode errors", obs.decodeErrors.Load(), st.DecodeErrors},
			{"invalidations", obs.invalidations.Load(), st.Invalidations},
		} {
			if check.observed == 0 || uint64(check.observed) != check.counted {
				t.Errorf("%s: observer saw %d, Stats say %d", check.what, check.observed, check.counted)
			}
		}
	})
}

func TestCloneOnEveryReturn(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[[]string]{
		TTL:   time.Hour,
		Clone: func(v []string) []string { return append([]string(nil), v...) },
	})
	if err := c.Set(ctx, "k", []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	for range 3 { // remote, then local hits
		v, err := c.Get(ctx, "k")
		if err != nil || strings.Join(v, ",") != "a,b" {
			t.Fatalf("Get = %v, %v; an earlier caller's change leaked into the cache", v, err)
		}
		v[0] = "changed by the caller"
	}
}

func TestPut(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[string]{TTL: time.Hour, MaxValueBytes: 64})
	db := map[string]string{}
	save := cache.WriterFunc[string](func(_ context.Context, key, v string) error {
		if v == "reject" {
			return errors.New("constraint violated")
		}
		db[key] = v
		return nil
	})
	if err := c.Put(ctx, "k", "v1", save); err != nil || db["k"] != "v1" {
		t.Fatalf("Put = %v, db %v", err, db)
	}
	mustGet(t, c, "k", "v1")
	if err := c.Put(ctx, "k", "reject", save); err == nil {
		t.Fatal("Put succeeded although the writer failed")
	}
	mustGet(t, c, "k", "v1") // the source was not written: the cache is untouched
	// The source takes a value the cache cannot store: the key is deleted
	// rather than left with the old value.
	big := strings.Repeat("x", 100)
	if err := c.Put(ctx, "k", big, save); !errors.Is(err, cache.ErrTooLarge) || db["k"] != big {
		t.Fatalf("Put of a value too large to cache = %v", err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get after a failed cache write: %v, want ErrNotFound (never a stale value)", err)
	}
}

// keyRecorder is a KeyObserver that records the keys it is told.
type keyRecorder struct {
	cache.NoopObserver
	mu           sync.Mutex
	misses, load []string
}

func (r *keyRecorder) OnMissKey(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.misses = append(r.misses, key)
}

func (r *keyRecorder) OnLoadKey(key string, _ time.Duration, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.load = append(r.load, key)
}

// TestKeyObserver: an Observer that implements KeyObserver hears the keys
// of misses and loads, one per key of a batch.
func TestKeyObserver(t *testing.T) {
	ctx := context.Background()
	rec := &keyRecorder{}
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[int]{TTL: time.Hour, Observer: rec})
	if _, err := c.Fetch(ctx, "hot", cache.LoaderFunc[int](func(context.Context, string) (int, error) { return 1, nil })); err != nil {
		t.Fatal(err)
	}
	batch := cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
		return map[string]int{"a": 1, "b": 2}, nil
	})
	if _, err := c.FetchMany(ctx, []string{"a", "b"}, batch); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if fmt.Sprint(rec.misses) != "[hot a b]" && fmt.Sprint(rec.misses) != "[hot b a]" || len(rec.load) != 3 || rec.load[0] != "hot" {
		t.Fatalf("misses %v, loads %v", rec.misses, rec.load)
	}
}
