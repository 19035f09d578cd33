package typecache_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
)

// One client for every package: its breakers (one per Redis node) open
// after 3 failures of any package over at least 100 ms, or at once on a
// refused connection, and the client probes an open node every 2 s.
func ExampleNewClient() {
	client, err := typecache.NewClient(
		rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}},
		typecache.WithBreaker(3, 2*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	// Pass client to cache.New, lock.New, ratelimit.New, session.New...
}

var errRedisDown = errors.New("redis unavailable (circuit open)")

// A command of your own behind the client's breaker of its key's node:
// refused at once while the node is known to be down, and its outcome
// counted with every package's.
func ExampleBreaker() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	incr := func(ctx context.Context, key string) (int64, error) {
		return typecache.Guard(ctx, client.Breaker(), key, errRedisDown, func() (int64, error) {
			r := client.Redis()
			return r.Do(ctx, r.B().Incr().Key(key).Build()).AsInt64()
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := incr(ctx, "app:visits"); err != nil {
		log.Print(err)
	}
}

// One check for every package: a call refused because Redis is known to be
// down (its node's breaker is open) matches ErrUnavailable, whichever
// package made it.
func ExampleErrUnavailable() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	names, err := cache.New[string](client, "names", cache.Options[string]{TTL: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer names.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := names.Get(ctx, "ada"); errors.Is(err, typecache.ErrUnavailable) {
		log.Print("redis is down: serving without the cache")
	}
}
