package typecache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestBroadcastTracksPerKeySpace: on a client in BCAST mode whose PREFIX
// covers one cache's key space and not another's, the first cache keeps
// its local tier, coherent with writes of other clients, and the second
// works without one.
func TestBroadcastTracksPerKeySpace(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		covered, uncovered := redistest.Name(t), redistest.Name(t)
		opt := srv.Option()
		opt.ClientTrackingOptions = []string{"BCAST", "PREFIX", "cache:" + covered + ":"}
		client, err := typecache.NewClient(opt)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		other := srv.Client(t)
		for _, tc := range []struct {
			name      string
			wantLocal bool
		}{{covered, true}, {uncovered, false}} {
			c, err := cache.New(client, tc.name, cache.Options[string]{TTL: time.Minute, Codec: codec.String()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			writer, err := cache.New(other, tc.name, cache.Options[string]{TTL: time.Minute, Codec: codec.String(), DisableLocal: true})
			if err != nil {
				t.Fatal(err)
			}
			defer writer.Close()
			if err := writer.Set(ctx, "k", "v1"); err != nil {
				t.Fatal(err)
			}
			// The write's invalidation may reach the client after its first
			// read, which then does not fill the tier: read a few times.
			for range 5 {
				if v, err := c.Get(ctx, "k"); err != nil || v != "v1" {
					t.Fatalf("%s: Get = %q, %v; want v1", tc.name, v, err)
				}
			}
			if st := c.Stats(); st.LocalHits > 0 != tc.wantLocal || st.LocalEntries > 0 != tc.wantLocal {
				t.Fatalf("%s: %d local hits, %d entries; want a local tier = %v", tc.name, st.LocalHits, st.LocalEntries, tc.wantLocal)
			}
			if err := writer.Set(ctx, "k", "v2"); err != nil {
				t.Fatal(err)
			}
			redistest.Eventually(t, 5*time.Second, func() error {
				if v, err := c.Get(ctx, "k"); err != nil || v != "v2" {
					return fmt.Errorf("%s: Get after another client's write = %q, %v; want v2", tc.name, v, err)
				}
				return nil
			})
		}
	})
}
