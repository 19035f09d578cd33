package cache_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestFetchMany(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		c := newCache(t, srv.Client(t), cacheName(t), cache.Options[int]{TTL: time.Hour})
		var keys []string
		for i := range 100 {
			keys = append(keys, strconv.Itoa(i))
		}
		for _, key := range keys[:50] { // cached already
			n, _ := strconv.Atoi(key)
			if err := c.Set(ctx, key, n); err != nil {
				t.Fatal(err)
			}
		}
		var batches [][]string
		loader := cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
			batches = append(batches, slices.Clone(keys))
			out := map[string]int{}
			for _, key := range keys {
				if n, _ := strconv.Atoi(key); n < 90 { // 90..99 do not exist
					out[key] = n
				}
			}
			return out, nil
		})
		for round := range 2 {
			got, err := c.FetchMany(ctx, append(keys, "1", "1"), loader)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 90 {
				t.Fatalf("round %d: %d values, want 90", round, len(got))
			}
			for key, v := range got {
				if strconv.Itoa(v) != key {
					t.Fatalf("round %d: %q = %d", round, key, v)
				}
			}
		}
		if len(batches) != 1 || !slices.Equal(batches[0], keys[50:]) {
			t.Fatalf("LoadMany calls: %v, want one with keys 50..99", batches)
		}
		if _, err := c.Get(ctx, "95"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("absent key after FetchMany: %v", err)
		}
		mustGet(t, c, "70", 70)
	})
}

func TestFetchManyLoaderError(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, redistest.Standalone(t).Client(t), cacheName(t), cache.Options[int]{TTL: time.Hour})
	if err := c.Set(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("source down")
	calls := 0
	loader := cache.BatchLoaderFunc[int](func(context.Context, []string) (map[string]int, error) {
		calls++
		return nil, boom
	})
	for range 2 {
		got, err := c.FetchMany(ctx, []string{"a", "b"}, loader)
		if !errors.Is(err, boom) || len(got) != 1 || got["a"] != 1 {
			t.Fatalf("FetchMany = %v, %v; want the cached value and the loader's error", got, err)
		}
	}
	if calls != 2 {
		t.Fatalf("loader called %d times, want 2: errors are not cached", calls)
	}
}

// TestFetchManyRoundTrips: FetchMany of 100 keys held in Redis (not locally)
// writes about once per connection, not once per key.
func TestFetchManyRoundTrips(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		client, writesPerConn := countingClient(t, srv)
		c := newCache(t, client, name, cache.Options[int]{TTL: time.Hour, DisableLocal: true})
		writer := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		var keys []string
		for i := range 100 {
			keys = append(keys, strconv.Itoa(i))
			if err := writer.Set(ctx, keys[i], i); err != nil {
				t.Fatal(err)
			}
		}
		// Connections are up, and the cache's generation is known (a
		// process reads it once), before counting.
		if _, err := c.Get(ctx, "warm-up"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatal(err)
		}
		before := writesPerConn()
		got, err := c.FetchMany(ctx, keys, cache.BatchLoaderFunc[int](func(context.Context, []string) (map[string]int, error) {
			t.Error("loader called for keys held in Redis")
			return nil, nil
		}))
		if err != nil || len(got) != 100 {
			t.Fatalf("FetchMany = %d values, %v", len(got), err)
		}
		after := writesPerConn()
		for i := range after {
			if i < len(before) {
				after[i] -= before[i]
			}
			if after[i] > 2 {
				t.Fatalf("writes per connection for 100 keys: %v, want at most 2 on each", after)
			}
		}
		t.Logf("writes per connection for 100 keys: %v", after)
	})
}
