package cache_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestLargeValuesSplitReads: while a cache's values are small, a lone read
// runs the read script alone, which reads the value (GET) and returns it;
// once its values are large (a running mean of 2 KiB or more), the script
// reads the value's header alone (GETRANGE) and a GET sent after it in the
// same transaction reads the value, which Redis then never copies into
// Lua. Each step checks the commands the servers ran (INFO commandstats,
// the servers being the test's own), the value served, and the local
// tier's part: an untracked first read, a tracked second read that fills
// the tier, a local hit, a cold Fetch that leases, loads and stores, a
// Fetch after a Clear that loads again.
func TestLargeValuesSplitReads(t *testing.T) {
	commands := []string{"multi", "exec", "client|caching", "evalsha", "getrange", "get"}
	small, large := "small", strings.Repeat("large value ", 2000) // 24 KB
	type step struct {
		what string
		read func(ctx context.Context, c *cache.Cache[string]) (string, error)
		want string
		// commands: exactly those, of the names above
		commands  map[string]int
		localHits uint64
	}
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		var loads atomic.Int64
		loader := cache.LoaderFunc[string](func(context.Context, string) (string, error) { loads.Add(1); return large, nil })
		get := func(key string) func(context.Context, *cache.Cache[string]) (string, error) {
			return func(ctx context.Context, c *cache.Cache[string]) (string, error) { return c.Get(ctx, key) }
		}
		fetch := func(key string) func(context.Context, *cache.Cache[string]) (string, error) {
			return func(ctx context.Context, c *cache.Cache[string]) (string, error) { return c.Fetch(ctx, key, loader) }
		}
		c := newCache(t, srv.SteadyClient(t), name, cache.Options[string]{TTL: time.Hour})
		// Another process loads the scripts on every node, and c learns the
		// cache's generation, before anything is counted.
		warm := newCache(t, srv.SteadyClient(t), name, cache.Options[string]{TTL: time.Hour})
		for _, key := range []string{"s", "l", "cold"} {
			if _, err := warm.Fetch(ctx, key, cache.LoaderFunc[string](func(context.Context, string) (string, error) { return small, nil })); err != nil {
				t.Fatal(err)
			}
			if err := warm.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Get(ctx, "other"); !errors.Is(err, cache.ErrNotFound) { // learns the generation
			t.Fatalf("Get of a missing key: %v", err)
		}
		if err := c.Set(ctx, "s", small); err != nil {
			t.Fatal(err)
		}
		steps := []step{
			{"first Get of a small value", get("s"), small, map[string]int{"get": 1}, 0},
			{"second Get of a small value: the script alone", get("s"), small, map[string]int{"multi": 1, "client|caching": 1, "evalsha": 1, "get": 1, "exec": 1}, 0},
			{"third Get of a small value", get("s"), small, map[string]int{}, 1},
			// A Set of 24 KB moves the mean past 2 KiB (an eighth of it).
			{"Set of a large value", func(ctx context.Context, c *cache.Cache[string]) (string, error) {
				return large, c.Set(ctx, "l", large)
			}, large, map[string]int{"evalsha": 1, "get": 1, "getrange": 1}, 1},
			{"first Get of a large value: a plain GET", get("l"), large, map[string]int{"get": 1}, 1},
			{"second Get of a large value: split", get("l"), large, map[string]int{"multi": 1, "client|caching": 1, "evalsha": 1, "getrange": 1, "get": 1, "exec": 1}, 1},
			{"third Get of a large value", get("l"), large, map[string]int{}, 2},
			{"cold Fetch: split read, lease, load, store", fetch("cold"), large,
				// The read's transaction: the script (GETRANGE of the value,
				// GET of the guard) and the value's GET; then the store's
				// script (GET of the guard, GETRANGE of the value).
				map[string]int{"multi": 1, "exec": 1, "evalsha": 2, "getrange": 2, "get": 3}, 2},
			{"Fetch after the load: split, tracked", fetch("cold"), large, map[string]int{"multi": 1, "client|caching": 1, "evalsha": 1, "getrange": 1, "get": 1, "exec": 1}, 2},
		}
		for _, step := range steps {
			before := srv.CommandCounts(t)
			got, err := step.read(ctx, c)
			if err != nil || got != step.want {
				t.Fatalf("%s: %.20q…, %v; want %.20q…", step.what, got, err, step.want)
			}
			if diff := cmp.Diff(step.commands, redistest.CommandDelta(before, srv.CommandCounts(t), commands...)); diff != "" {
				t.Errorf("%s: commands (-want +got):\n%s", step.what, diff)
			}
			if got := c.Stats().LocalHits; got != step.localHits {
				t.Errorf("%s: %d local hits, want %d", step.what, got, step.localHits)
			}
		}
		if n := loads.Load(); n != 1 {
			t.Fatalf("%d loads, want 1", n)
		}
		if err := c.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Fetch(ctx, "l", loader); err != nil || got != large || loads.Load() != 2 {
			t.Fatalf("Fetch after Clear: %.20q…, %v, %d loads; want the loader's value, 2 loads", got, err, loads.Load())
		}
	})
}

// TestLargeValuesSplitBatchReads: GetMany and FetchMany of large values
// send, per cluster slot, one transaction in which each key's script reads
// the value's header and a GET reads the value: tracked (GetMany of keys
// read before, with a local tier) and untracked (FetchMany of cold keys,
// without one), the loaded values stored and served again.
func TestLargeValuesSplitBatchReads(t *testing.T) {
	commands := []string{"multi", "exec", "client|caching", "evalsha", "getrange"}
	large := strings.Repeat("large value ", 2000) // 24 KB
	keys := []string{"a", "b", "c", "d"}
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		// checkTransactions fails t unless the commands ran, in delta, are
		// scripts (per key, once or twice: read, and store) with a header
		// read each, in one transaction per slot at most.
		checkTransactions := func(what string, delta map[string]int, scripts int, tracked bool) {
			t.Helper()
			multi := delta["multi"]
			if multi < 1 || multi > len(keys) || delta["exec"] != multi || delta["evalsha"] != scripts || delta["getrange"] != scripts {
				t.Errorf("%s: commands %v: want %d scripts reading %[3]d headers, in 1 to %d transactions", what, delta, scripts, len(keys))
			}
			if !srv.IsCluster() && multi != 1 {
				t.Errorf("%s: %d transactions on a standalone server, want 1", what, multi)
			}
			if got := delta["client|caching"]; tracked && got != multi || !tracked && got != 0 {
				t.Errorf("%s: %d CLIENT CACHING in %d transactions (tracked: %v)", what, got, multi, tracked)
			}
		}
		var loads atomic.Int64
		load := cache.BatchLoaderFunc[string](func(_ context.Context, ks []string) (map[string]string, error) {
			loads.Add(1)
			m := map[string]string{}
			for _, k := range ks {
				m[k] = large + k
			}
			return m, nil
		})
		remote := newCache(t, srv.SteadyClient(t), name, cache.Options[string]{TTL: time.Hour, DisableLocal: true})
		remote.SplitAllReads()
		// Loads the scripts on every node (64 keys miss none of 3 masters
		// but with a chance of 10⁻¹¹), and remote learns the generation.
		warm := make([]string, 64)
		for i := range warm {
			warm[i] = "warm" + strconv.Itoa(i)
		}
		if _, err := remote.FetchMany(ctx, warm, load); err != nil {
			t.Fatal(err)
		}
		c := newCache(t, srv.SteadyClient(t), name, cache.Options[string]{TTL: time.Hour})
		for _, k := range keys {
			if err := c.Set(ctx, k, large); err != nil { // the mean passes 2 KiB
				t.Fatal(err)
			}
			mustGet(t, c, k, large) // the first read: a plain GET
		}
		before := srv.CommandCounts(t)
		got, err := c.GetMany(ctx, keys)
		if err != nil || len(got) != len(keys) || got["a"] != large {
			t.Fatalf("GetMany: %d values, %v", len(got), err)
		}
		// The second read of each key, tracked: no lease, a script each.
		checkTransactions("GetMany", redistest.CommandDelta(before, srv.CommandCounts(t), commands...), len(keys), true)

		cold := []string{"w", "x", "y", "z"}
		before = srv.CommandCounts(t)
		got, err = remote.FetchMany(ctx, cold, load)
		if err != nil || len(got) != len(cold) || got["w"] != large+"w" {
			t.Fatalf("FetchMany: %d values, %v", len(got), err)
		}
		delta := redistest.CommandDelta(before, srv.CommandCounts(t), commands...)
		// The reads' scripts (leases) in transactions, then the stores'
		// scripts alone, each reading the header it replaces.
		delta["evalsha"] -= len(cold)
		delta["getrange"] -= len(cold)
		checkTransactions("cold FetchMany", delta, len(cold), false)
		before = srv.CommandCounts(t)
		got, err = remote.FetchMany(ctx, cold, load)
		if err != nil || len(got) != len(cold) || got["z"] != large+"z" || loads.Load() != 2 {
			t.Fatalf("FetchMany again: %d values, %v, %d loads; want the stored values, 2 loads (warm, cold)", len(got), err, loads.Load())
		}
		checkTransactions("FetchMany of stored values", redistest.CommandDelta(before, srv.CommandCounts(t), commands...), len(cold), false)
	})
}
