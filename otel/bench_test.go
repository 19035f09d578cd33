package otel_test

import (
	"errors"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// BenchmarkCacheLocalHit is the cost the metrics observer adds to the
// cache's fastest path, a local hit, with the SDK's cumulative aggregation.
func BenchmarkCacheLocalHit(b *testing.B) {
	srv := redistest.Standalone(b)
	for _, bb := range []struct {
		name     string
		observer func() cache.Observer
	}{
		{"no-observer", func() cache.Observer { return nil }},
		{"otel", func() cache.Observer {
			m, _ := newMetrics(b)
			return m.CacheObserver(nil)
		}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			name := redistest.Name(b)
			c, err := cache.New[string](srv.Client(b), name, cache.Options[string]{TTL: time.Hour, Observer: bb.observer()})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Set(background, "k", "v"); err != nil {
				b.Fatal(err)
			}
			redistest.Eventually(b, 5*time.Second, func() error {
				c.Get(background, "k")
				if c.Stats().LocalHits == 0 {
					return errors.New("no local hit")
				}
				return nil
			})
			b.ReportAllocs()
			for b.Loop() {
				c.Get(background, "k")
			}
		})
	}
}
