package cache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// ttlByKind is the tests' TTLFunc: the key's prefix says how long.
func ttlByKind(key string, _ string) time.Duration {
	switch {
	case strings.HasPrefix(key, "token"):
		return 10 * time.Second
	case strings.HasPrefix(key, "product"):
		return 5 * time.Minute
	}
	return 0 // Options.TTL
}

// TestTTLFunc: every way of storing a value gives it the TTL that TTLFunc
// said, shortened only by jitter and without stale window; a result of 0
// means Options.TTL with its stale window, and WithTTL overrides TTLFunc.
// The TTLs are read with PTTL.
func TestTTLFunc(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		const ttl, stale, jitter = time.Hour, 30 * time.Minute, 0.1
		c := newCache(t, srv.Client(t), cacheName(t), cache.Options[string]{
			TTL: ttl, StaleTTL: stale, Jitter: jitter, TTLFunc: ttlByKind,
		})
		raw := srv.Raw(t)
		loader := cache.LoaderFunc[string](func(context.Context, string) (string, error) { return "v", nil })
		batch := cache.BatchLoaderFunc[string](func(_ context.Context, keys []string) (map[string]string, error) {
			out := map[string]string{}
			for _, k := range keys {
				out[k] = "v"
			}
			return out, nil
		})
		save := cache.WriterFunc[string](func(context.Context, string, string) error { return nil })
		stores := []struct {
			name  string
			store func(key string) error
		}{
			{"Fetch", func(key string) error { _, err := c.Fetch(ctx, key, loader); return err }},
			{"FetchMany", func(key string) error { _, err := c.FetchMany(ctx, []string{key}, batch); return err }},
			{"Put", func(key string) error { return c.Put(ctx, key, "v", save) }},
			{"Set", func(key string) error { return c.Set(ctx, key, "v") }},
			{"SetMany", func(key string) error { return c.SetMany(ctx, map[string]string{key: "v"}) }},
		}
		kinds := []struct {
			prefix   string
			min, max time.Duration // of the PTTL right after the store
		}{
			{"token", scaled(10*time.Second, 1-jitter), 10 * time.Second},
			{"product", scaled(5*time.Minute, 1-jitter), 5 * time.Minute},
			{"other", scaled(ttl, 1-jitter) + stale, scaled(ttl, 1+jitter) + stale},
		}
		for _, s := range stores {
			for _, k := range kinds {
				t.Run(s.name+"/"+k.prefix, func(t *testing.T) {
					key := k.prefix + "-" + s.name
					if err := s.store(key); err != nil {
						t.Fatal(err)
					}
					if pttl := pttlOf(t, raw, c.RedisKey(key)); pttl < k.min-time.Second || pttl > k.max {
						t.Fatalf("PTTL = %v, want within [%v, %v]", pttl, k.min, k.max)
					}
				})
			}
		}
		t.Run("WithTTL overrides", func(t *testing.T) {
			if err := c.Set(ctx, "token-with-ttl", "v", cache.WithTTL(time.Minute)); err != nil {
				t.Fatal(err)
			}
			pttl := pttlOf(t, raw, c.RedisKey("token-with-ttl"))
			if lo, hi := scaled(time.Minute, 1-jitter)+stale-time.Second, scaled(time.Minute, 1+jitter)+stale; pttl < lo || pttl > hi {
				t.Fatalf("PTTL = %v, want within [%v, %v]: WithTTL's, with the stale window", pttl, lo, hi)
			}
		})
	})
}

// scaled returns d×f.
func scaled(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }

// pttlOf returns the PTTL of a Redis key.
func pttlOf(t *testing.T, raw rueidis.Client, key string) time.Duration {
	t.Helper()
	ms, err := raw.Do(context.Background(), raw.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(ms) * time.Millisecond
}

// TestTTLFuncIsAHardExpiry: a value whose TTL came from TTLFunc is never
// served, by the local tier or by Redis, in this process or another, by
// Get or Fetch, after the TTL ran out from the store; no stale window
// extends it although StaleTTL is set. Every read that returned the value
// must have started before the store's reply plus the TTL.
func TestTTLFuncIsAHardExpiry(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		const d = 300 * time.Millisecond
		name := cacheName(t)
		opts := cache.Options[int]{
			TTL: time.Hour, StaleTTL: time.Hour, Jitter: -1,
			TTLFunc: func(string, int) time.Duration { return d },
		}
		c := newCache(t, srv.Client(t), name, opts)
		other := newCache(t, srv.Client(t), name, opts)
		version := 0
		loader := cache.LoaderFunc[int](func(context.Context, string) (int, error) { version++; return version, nil })
		if v, err := c.Fetch(ctx, "token", loader); err != nil || v != 1 {
			t.Fatalf("Fetch = %d, %v", v, err)
		}
		deadline := time.Now().Add(d) // the store's reply came before
		for {
			start := time.Now()
			got := map[string]int{}
			if v, err := c.Get(ctx, "token"); err == nil {
				got["Get"] = v
			} else if !errors.Is(err, cache.ErrNotFound) {
				t.Fatal(err)
			}
			if v, err := other.Get(ctx, "token"); err == nil {
				got["other process's Get"] = v
			} else if !errors.Is(err, cache.ErrNotFound) {
				t.Fatal(err)
			}
			v, err := other.Fetch(ctx, "token", loader)
			if err != nil {
				t.Fatal(err)
			}
			got["other process's Fetch"] = v
			for read, v := range got {
				if v == 1 && start.After(deadline) {
					t.Fatalf("%s served the value %v after its TTLFunc expiry", read, start.Sub(deadline))
				}
			}
			if v != 1 {
				break // reloaded: the first value is gone
			}
		}
		if st := other.Stats(); st.StaleServed != 0 {
			t.Fatalf("%d stale values served: TTLFunc's expiry has no stale window", st.StaleServed)
		}
	})
}

// TestTTLFuncTooShortStoresNothing: a TTL under two milliseconds stores
// nothing; a Set with it deletes the value it replaces.
func TestTTLFuncTooShortStoresNothing(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[int]{
		TTL: time.Hour, Jitter: -1,
		TTLFunc: func(_ string, v int) time.Duration { return time.Duration(v) * time.Millisecond },
	})
	if err := c.Set(ctx, "k", 1000); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "k", 1000)
	if err := c.Set(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get after a Set with a 1 ms TTL = %d, %v; want ErrNotFound", v, err)
	}
	loads := 0
	loader := cache.LoaderFunc[int](func(context.Context, string) (int, error) { loads++; return 1, nil })
	for range 2 {
		if v, err := c.Fetch(ctx, "f", loader); err != nil || v != 1 {
			t.Fatalf("Fetch = %d, %v", v, err)
		}
	}
	if loads != 2 || c.Stats().StoreFailures != 0 {
		t.Fatalf("%d loads, stats %+v: want 2 loads (nothing stored) and no store failure", loads, c.Stats())
	}
}

// TestTTLOutOfRange: a TTLFunc result over MaxTTL stores the value for
// MaxTTL, by every way of storing; WithTTL out of range fails the call
// with ErrInvalidArgument and writes nothing, also with a TTLFunc.
func TestTTLOutOfRange(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		c := newCache(t, srv.Client(t), cacheName(t), cache.Options[string]{
			TTL: time.Hour, Jitter: -1,
			TTLFunc: func(string, string) time.Duration { return 2 * cache.MaxTTL },
		})
		raw := srv.Raw(t)
		loader := cache.LoaderFunc[string](func(context.Context, string) (string, error) { return "v", nil })
		save := cache.WriterFunc[string](func(context.Context, string, string) error { return nil })
		for _, tt := range []struct {
			name  string
			store func(key string) error
			err   error // nil: stored for MaxTTL
		}{
			{"TTLFunc/Fetch", func(key string) error { _, err := c.Fetch(ctx, key, loader); return err }, nil},
			{"TTLFunc/Put", func(key string) error { return c.Put(ctx, key, "v", save) }, nil},
			{"TTLFunc/Set", func(key string) error { return c.Set(ctx, key, "v") }, nil},
			{"WithTTL/over", func(key string) error { return c.Set(ctx, key, "v", cache.WithTTL(cache.MaxTTL+time.Hour)) }, cache.ErrInvalidArgument},
			{"WithTTL/under", func(key string) error { return c.Set(ctx, key, "v", cache.WithTTL(0)) }, cache.ErrInvalidArgument},
			{"WithTTL/SetMany", func(key string) error {
				return c.SetMany(ctx, map[string]string{key: "v"}, cache.WithTTL(cache.MaxTTL+time.Hour))
			}, cache.ErrInvalidArgument},
		} {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.store(tt.name)
				pttl := pttlOf(t, raw, c.RedisKey(tt.name))
				switch {
				case tt.err != nil && (!errors.Is(err, tt.err) || pttl != -2*time.Millisecond):
					t.Fatalf("error %v, PTTL %v; want %v and no key", err, pttl, tt.err)
				case tt.err == nil && (err != nil || pttl < cache.MaxTTL-time.Minute || pttl > cache.MaxTTL):
					t.Fatalf("error %v, PTTL %v; want nil and MaxTTL (%v)", err, pttl, cache.MaxTTL)
				}
			})
		}
	})
}
