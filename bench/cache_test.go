package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
)

// roundTrip stores want under key and checks that Get returns it twice: the
// first read may fill a local tier, the second may be served by it.
func roundTrip(ctx context.Context, store userStore, key string, want User) error {
	if err := store.Set(ctx, key, want); err != nil {
		return fmt.Errorf("Set: %w", err)
	}
	for range 2 {
		got, err := store.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("Get: %w", err)
		}
		if !equalUser(got, want) {
			return fmt.Errorf("Get returned %+v, want %+v", got, want)
		}
	}
	return nil
}

// TestCacheContenders checks that every contender of the cache workloads
// stores and returns the benchmark value intact, and that Fetch loads a
// missing key once and then serves it from the cache.
func TestCacheContenders(t *testing.T) {
	for _, group := range []struct {
		name       string
		contenders []cacheContender
	}{{"local", localHitContenders}, {"remote", missContenders}} {
		for _, c := range group.contenders {
			t.Run(group.name+"/"+c.name, func(t *testing.T) {
				ctx := context.Background()
				srv := server(t)
				store := c.open(t, srv)
				if err := roundTrip(ctx, store, redistest.Prefix(t)+"user", sampleUser(7)); err != nil {
					t.Fatal(err)
				}
				loads := 0
				load := func(context.Context) (User, error) { loads++; return sampleUser(8), nil }
				key := redistest.Prefix(t) + "fetched"
				for range 2 {
					got, err := store.Fetch(ctx, key, load)
					if err != nil {
						t.Fatalf("Fetch: %v", err)
					}
					if !equalUser(got, sampleUser(8)) {
						t.Fatalf("Fetch returned %+v, want sampleUser(8)", got)
					}
				}
				// The second Fetch may miss once more where a read can
				// predate the first Fetch's own store.
				if loads != 1 && !(c.staleAfterOwnWrite && loads == 2) {
					t.Errorf("two Fetches of one key called the loader %d times, want 1", loads)
				}
			})
		}
	}
}
