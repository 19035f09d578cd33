package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// generationOf reads a cache's generation from Redis.
func generationOf(t *testing.T, raw rueidis.Client, c *cache.Cache[int]) uint64 {
	t.Helper()
	s, err := raw.Do(context.Background(), raw.B().Get().Key(c.RedisGenerationKey()).Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	gen, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// TestClear: after Clear the clearing process reads no entry at once,
// another process's local tier drops them within the invalidation delay,
// caches of another name or Version keep theirs, the generation only
// grows, and writes after the Clear are read everywhere.
func TestClear(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		opts := cache.Options[int]{TTL: time.Hour}
		clearing := newCache(t, srv.Client(t), name, opts)
		other := newCache(t, srv.Client(t), name, opts)
		otherName := newCache(t, srv.Client(t), name+"-b", opts)
		otherVersion := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour, Version: "v2"})
		values := map[string]int{}
		var keys []string
		for i := range 10 {
			keys = append(keys, strconv.Itoa(i))
			values[keys[i]] = i
		}
		for _, c := range []*cache.Cache[int]{clearing, otherName, otherVersion} {
			if err := c.SetMany(ctx, values); err != nil {
				t.Fatal(err)
			}
		}
		redistest.Eventually(t, 5*time.Second, func() error { // other holds them locally
			if got, err := other.GetMany(ctx, keys); err != nil || len(got) != 10 {
				return fmt.Errorf("GetMany = %v, %v", got, err)
			}
			if n := other.Stats().LocalEntries; n != 10 {
				return fmt.Errorf("%d local entries", n)
			}
			return nil
		})
		raw := srv.Raw(t)
		before := generationOf(t, raw, clearing)

		if err := clearing.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if after := generationOf(t, raw, clearing); after <= before {
			t.Fatalf("generation %d after Clear, %d before: generations must grow", after, before)
		}
		if got, err := clearing.GetMany(ctx, keys); err != nil || len(got) != 0 {
			t.Fatalf("the clearing process reads %v, %v after Clear", got, err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if n := other.Stats().LocalEntries; n != 0 {
				return fmt.Errorf("another process still holds %d local entries", n)
			}
			return nil
		})
		if got, err := other.GetMany(ctx, keys); err != nil || len(got) != 0 {
			t.Fatalf("another process reads %v, %v after Clear", got, err)
		}
		for _, c := range []*cache.Cache[int]{otherName, otherVersion} {
			if got, err := c.GetMany(ctx, keys); err != nil || len(got) != 10 {
				t.Fatalf("a cache of another name or version reads %v, %v after the Clear of %s", got, err, name)
			}
		}
		if err := clearing.Set(ctx, "1", 100); err != nil {
			t.Fatal(err)
		}
		mustGet(t, clearing, "1", 100)
		redistest.Eventually(t, 5*time.Second, func() error {
			if v, err := other.Get(ctx, "1"); err != nil || v != 100 {
				return fmt.Errorf("another process reads %d, %v after a write that followed the Clear", v, err)
			}
			return nil
		})
	})
}

// TestClearDuringLoad: a load that read the source before a Clear is
// returned to its callers but never served afterwards, by the clearing
// process or the loading one (the same rule as a write beating a load):
// its value went to the generation before the Clear.
func TestClearDuringLoad(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sameCache bool
	}{{"same-process", true}, {"other-process", false}} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				ctx := context.Background()
				loading, clearing := pairOfCaches(t, srv, cacheName(t), tc.sameCache)
				src, finishLoad := slowLoad(t, loading) // it has read 1 from the source
				if err := clearing.Clear(ctx); err != nil {
					t.Fatal(err)
				}
				src.set("k", 2)
				finishLoad()
				raw := srv.Raw(t)
				if n, err := raw.Do(ctx, raw.B().Exists().Key(loading.RedisKey("k")).Build()).AsInt64(); err != nil || n != 1 {
					t.Fatalf("EXISTS = %d, %v: the load's value was not stored at all", n, err)
				}
				if v, err := clearing.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
					t.Fatalf("the clearing process reads %d, %v: a load from before the Clear was stored after it", v, err)
				}
				redistest.Eventually(t, 5*time.Second, func() error {
					if v, err := loading.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
						return fmt.Errorf("the loading process reads %d, %v", v, err)
					}
					return nil
				})
				fresh := cache.LoaderFunc[int](func(_ context.Context, key string) (int, error) { return src.get(key), nil })
				for _, c := range []*cache.Cache[int]{loading, clearing} {
					if v, err := c.Fetch(ctx, "k", fresh); err != nil || v != 2 {
						t.Fatalf("Fetch after the Clear = %d, %v; want 2", v, err)
					}
				}
			})
		})
	}
}

// TestGenerationKeyLost: when the generation key is lost (evicted,
// deleted, overwritten), the next one is higher than every earlier one, so
// no entry hidden by a Clear comes back, nor any written before the loss.
func TestGenerationKeyLost(t *testing.T) {
	for _, loss := range []string{"DEL", "garbage"} {
		t.Run(loss, func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				ctx := context.Background()
				name := cacheName(t)
				c := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
				if err := c.Set(ctx, "cleared", 1); err != nil {
					t.Fatal(err)
				}
				if err := c.Clear(ctx); err != nil {
					t.Fatal(err)
				}
				if err := c.Set(ctx, "kept", 2); err != nil {
					t.Fatal(err)
				}
				mustGet(t, c, "kept", 2)
				raw := srv.Raw(t)
				before := generationOf(t, raw, c)
				lose := raw.B().Del().Key(c.RedisGenerationKey()).Build()
				if loss == "garbage" {
					lose = raw.B().Set().Key(c.RedisGenerationKey()).Value("0000000000000000x").Build()
				}
				if err := raw.Do(ctx, lose).Error(); err != nil {
					t.Fatal(err)
				}
				redistest.Eventually(t, 5*time.Second, func() error {
					if v, err := c.Get(ctx, "kept"); !errors.Is(err, cache.ErrNotFound) {
						return fmt.Errorf("Get after the generation was lost = %d, %v", v, err)
					}
					return nil
				})
				if after := generationOf(t, raw, c); after <= before {
					t.Fatalf("generation %d after the loss, %d before", after, before)
				}
				fresh := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
				for _, key := range []string{"cleared", "kept"} {
					if v, err := fresh.Get(ctx, key); !errors.Is(err, cache.ErrNotFound) {
						t.Fatalf("Get(%q) after the generation was lost = %d, %v", key, v, err)
					}
				}
			})
		})
	}
}

// TestGenerationOfTheEarlierLayout: a generation key as the 15-byte
// layout's processes write it (16 digits of µs, which they replace when
// they find anything else) is read as milliseconds and kept, so that
// processes of both layouts do not replace each other's generation (and
// hide every value) on every read during a deploy; a Clear then writes
// the new layout's 13 digits, above it.
func TestGenerationOfTheEarlierLayout(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		name := cacheName(t)
		c := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		earlier := strconv.FormatInt(time.Now().Add(time.Second).UnixMicro(), 10)
		if err := raw.Do(ctx, raw.B().Set().Key(c.RedisGenerationKey()).Value(earlier).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "k", 1); err != nil {
			t.Fatal(err)
		}
		mustGet(t, c, "k", 1)
		fresh := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		mustGet(t, fresh, "k", 1)
		if got := generationOf(t, raw, c); strconv.FormatUint(got, 10) != earlier {
			t.Fatalf("generation %d after the reads, want the earlier layout's %s kept", got, earlier)
		}
		if err := c.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		after := generationOf(t, raw, c)
		if old, _ := strconv.ParseUint(earlier, 10, 64); len(strconv.FormatUint(after, 10)) != 13 || after <= old/1000 {
			t.Fatalf("generation %d after the Clear, want 13 digits above %d ms", after, old/1000)
		}
		// The clearing process at once; another one once Redis has told it
		// of the new generation.
		if v, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get after the Clear = %d, %v", v, err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if v, err := fresh.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
				return fmt.Errorf("another process's Get after the Clear = %d, %v", v, err)
			}
			return nil
		})
	})
}

// TestClearWithoutTracking: a client without client-side caching hears of
// no change, so it reads the generation before every call: a Clear by
// another process hides the entries from its next call.
func TestClearWithoutTracking(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		opt := srv.Option()
		opt.DisableCache = true
		untracked, err := typecache.NewClient(opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(untracked.Close)
		c := newCache(t, untracked, name, cache.Options[int]{TTL: time.Hour})
		clearing := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		if err := c.Set(ctx, "k", 1); err != nil {
			t.Fatal(err)
		}
		mustGet(t, c, "k", 1)
		if err := clearing.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get by an untracked client after another's Clear = %d, %v", v, err)
		}
		if err := c.Set(ctx, "k", 2); err != nil {
			t.Fatal(err)
		}
		mustGet(t, clearing, "k", 2)
	})
}
