package counter

import "testing"

// TestReadCacheRaces: a read in flight when its key is invalidated (or
// everything is) inserts nothing, also when a later read of the key overlaps
// it; reads of other keys are unaffected; the cache stays within its bound.
func TestReadCacheRaces(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *readCache)
		cached bool
	}{
		{"no change", func(*readCache) {}, true},
		{"key invalidated", func(c *readCache) { c.Invalidate("k") }, false},
		{"other key invalidated", func(c *readCache) { c.Invalidate("other") }, true},
		{"everything invalidated", func(c *readCache) { c.InvalidateAll() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newReadCache(10)
			r := c.begin("k")
			tc.change(c)
			later := c.begin("k") // began after the change, ends after the first
			c.end("k", r, 1, true)
			if _, ok := c.get("k"); ok != tc.cached {
				t.Fatalf("cached = %v after the first read, want %v", ok, tc.cached)
			}
			c.end("k", later, 2, true)
			if len(c.reads) != 0 {
				t.Fatalf("%d keys still have reads in flight", len(c.reads))
			}
			// With no read in flight any more, the next read caches.
			r = c.begin("k")
			c.end("k", r, 3, true)
			if v, ok := c.get("k"); !ok || v != 3 {
				t.Fatalf("get = %d, %v; want 3 after a clean read", v, ok)
			}
		})
	}
	t.Run("failed read", func(t *testing.T) {
		c := newReadCache(10)
		r := c.begin("k")
		c.end("k", r, 0, false)
		if _, ok := c.get("k"); ok {
			t.Fatal("a failed read was cached")
		}
	})
	t.Run("bound", func(t *testing.T) {
		c := newReadCache(3)
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			c.end(k, c.begin(k), 1, true)
		}
		if len(c.values) != 3 {
			t.Fatalf("%d values cached, want the bound 3", len(c.values))
		}
	})
}
