// Quickstart: a typed cache-aside cache in front of a slow "database".
//
//	go run ./examples/quickstart
//
// The first Fetch misses, calls the loader and stores the value in Redis.
// The next is served by Redis and keeps the decoded value in the local tier,
// which Redis invalidates whenever the key changes (the invalidation of our
// own write, arriving a moment later, can make one more read go to Redis);
// then Fetch is a local hit: no round trip, no decoding.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/examples/internal/devredis"
)

// User is the cached type: any value the codec (MessagePack by default) can encode.
type User struct {
	ID    string
	Name  string
	Email string
}

func main() {
	opt, stopRedis, err := devredis.Option() // REDIS_URL, or a throwaway redis-server
	if err != nil {
		log.Fatal(err)
	}
	defer stopRedis()
	ctx := context.Background()

	// opt is a rueidis.ClientOption, such as {InitAddress: []string{"127.0.0.1:6379"}}.
	client, err := typecache.NewClient(opt)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	users, err := cache.New[User](client, "user", cache.Options[User]{TTL: 10 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	loadUser := cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
		return db.LoadUser(ctx, id) // your source of truth
	})
	for i := 1; i <= 4; i++ {
		start, before := time.Now(), users.Stats()
		u, err := users.Fetch(ctx, "42", loadUser) // loads once, then served from the local tier
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("fetch %d: %+v in %v, %s\n", i, u, time.Since(start).Round(time.Microsecond), servedBy(before, users.Stats()))
	}
	s := users.Stats()
	fmt.Printf("stats: loads=%d remote hits=%d local hits=%d\n", s.Loads, s.RemoteHits, s.LocalHits)
}
