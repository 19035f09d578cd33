package cache_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestFirstCallAfterScriptLoss: after a node forgets the cache's scripts
// (SCRIPT FLUSH, a restart), the first call of each kind succeeds in about
// one extra round trip, loading each missing key once. A FetchMany whose
// keys span healthy nodes and the one that answered NOSCRIPT used to send
// every key again, and the keys that had taken their lease in the first
// attempt waited for their own lease (5 s).
func TestFirstCallAfterScriptLoss(t *testing.T) {
	redistest.RunScriptLoss(t, func(t *testing.T, srv *redistest.Server, client *typecache.Client) []redistest.ScriptCall {
		ctx := context.Background()
		c := newCache(t, client, cacheName(t), cache.Options[int]{})
		split := newCache(t, client, cacheName(t)+"-split", cache.Options[int]{})
		split.SplitAllReads()
		var loads atomic.Int64
		loader := cache.LoaderFunc[int](func(context.Context, string) (int, error) { loads.Add(1); return 1, nil })
		batch := cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
			loads.Add(1)
			m := make(map[string]int, len(keys))
			for _, k := range keys {
				m[k] = 1
			}
			return m, nil
		})
		save := cache.WriterFunc[int](func(context.Context, string, int) error { return nil })
		keys := func(round, n int) []string {
			ks := make([]string, n)
			for i := range ks {
				ks[i] = strconv.Itoa(round) + "-" + strconv.Itoa(i)
			}
			return ks
		}
		// loadsOnce fails unless call made one loader call.
		loadsOnce := func(call func() error) error {
			before := loads.Load()
			if err := call(); err != nil {
				return err
			}
			if n := loads.Load() - before; n != 1 {
				return fmt.Errorf("%d loader calls, want 1", n)
			}
			return nil
		}
		return []redistest.ScriptCall{
			{Name: "Fetch", Call: func(r int) error {
				return loadsOnce(func() error { _, err := c.Fetch(ctx, keys(r, 1)[0], loader); return err })
			}},
			{Name: "FetchMany", Call: func(r int) error {
				return loadsOnce(func() error {
					m, err := c.FetchMany(ctx, keys(r, 64), batch)
					if err == nil && len(m) != 64 {
						err = fmt.Errorf("%d values, want 64", len(m))
					}
					return err
				})
			}},
			{Name: "Fetch, split reads", Call: func(r int) error {
				// A cold read, then a tracked one: both split.
				return loadsOnce(func() error {
					for range 2 {
						if _, err := split.Fetch(ctx, keys(r, 1)[0], loader); err != nil {
							return err
						}
					}
					return nil
				})
			}},
			{Name: "FetchMany, split reads", Call: func(r int) error {
				return loadsOnce(func() error {
					for range 2 { // cold reads, then tracked ones
						m, err := split.FetchMany(ctx, keys(r, 64), batch)
						if err == nil && len(m) != 64 {
							err = fmt.Errorf("%d values, want 64", len(m))
						}
						if err != nil {
							return err
						}
					}
					return nil
				})
			}},
			{Name: "Get", Call: func(r int) error { _, err := c.Get(ctx, keys(r, 1)[0]); return ignoreNotFound(err) }},
			{Name: "Set", Call: func(r int) error { return c.Set(ctx, keys(r, 1)[0], 2) }},
			{Name: "SetMany", Call: func(r int) error {
				m := map[string]int{}
				for _, k := range keys(r, 16) {
					m[k] = 2
				}
				return c.SetMany(ctx, m)
			}},
			{Name: "Put", Call: func(r int) error { return c.Put(ctx, keys(r, 1)[0], 3, save) }},
			{Name: "Delete", Call: func(r int) error { return c.Delete(ctx, keys(r, 16)...) }},
			{Name: "Clear", Call: func(int) error { return c.Clear(ctx) }},
		}
	})
}
