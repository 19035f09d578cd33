package cache_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
)

// User is the examples' value type.
type User struct {
	ID   string
	Name string
}

// db stands in for the source of truth.
var db = map[string]User{"42": {ID: "42", Name: "Ada"}}

func Example() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	users, err := cache.New[User](client, "user", cache.Options[User]{TTL: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	// Cache-aside: a miss calls the loader once across all processes,
	// stores the value in Redis and returns it; later calls are served from
	// the local tier until another process changes the key.
	u, err := users.Fetch(context.Background(), "42", cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
		u, ok := db[id]
		if !ok {
			return User{}, cache.ErrNotFound // cached as absent for NegativeTTL
		}
		return u, nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Name)
}

// openUsers connects and opens the "user" cache, as in Example.
func openUsers(opts cache.Options[User]) (*cache.Cache[User], func()) {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	users, err := cache.New[User](client, "user", opts)
	if err != nil {
		log.Fatal(err)
	}
	return users, func() { users.Close(); client.Close() }
}

func ExampleCache_Put() {
	users, closeAll := openUsers(cache.Options[User]{TTL: time.Hour})
	defer closeAll()

	// Write-through: the database first, then the cache. If the cache
	// write fails the key is deleted, so no stale value stays cached.
	saveUser := cache.WriterFunc[User](func(ctx context.Context, id string, u User) error {
		db[id] = u // UPDATE users SET ... in real life
		return nil
	})
	if err := users.Put(context.Background(), "42", User{ID: "42", Name: "Ada King"}, saveUser); err != nil {
		log.Fatal(err)
	}
}

func ExampleCache_FetchMany() {
	users, closeAll := openUsers(cache.Options[User]{TTL: time.Hour})
	defer closeAll()

	// One round trip per cluster slot group for the cached keys, one
	// LoadMany for the others (SELECT ... WHERE id IN (...)).
	found, err := users.FetchMany(context.Background(), []string{"42", "43"}, cache.BatchLoaderFunc[User](
		func(ctx context.Context, ids []string) (map[string]User, error) {
			out := make(map[string]User, len(ids))
			for _, id := range ids {
				if u, ok := db[id]; ok {
					out[id] = u
				}
			}
			return out, nil // ids missing from the map are cached as absent
		}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(found))
}

func ExampleOptions_staleWhileRevalidate() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Fresh for 5 minutes; for 1 hour after that Fetch still answers with
	// the old value at once while one background refresh runs. If the
	// source is down, the old value comes back with an error that wraps
	// cache.ErrStale.
	prices, err := cache.New[float64](client, "price", cache.Options[float64]{
		TTL:      5 * time.Minute,
		StaleTTL: time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer prices.Close()

	p, err := prices.Fetch(context.Background(), "EURUSD", cache.LoaderFunc[float64](fetchQuote))
	switch {
	case errors.Is(err, cache.ErrStale):
		log.Printf("serving a stale quote: %v", err)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(p)
}

func fetchQuote(ctx context.Context, symbol string) (float64, error) { return 1.08, nil }

// metrics is an Observer that counts hits by tier; embedding NoopObserver
// keeps it compiling when methods are added to Observer.
// Its methods run concurrently on the callers' goroutines: atomics only.
type metrics struct {
	cache.NoopObserver
	local, remote atomic.Int64
}

func (m *metrics) OnHit(tier cache.Tier) {
	if tier == cache.TierLocal {
		m.local.Add(1)
	} else {
		m.remote.Add(1)
	}
}

func ExampleObserver() {
	users, closeAll := openUsers(cache.Options[User]{TTL: time.Hour, Observer: &metrics{}})
	defer closeAll()
	fmt.Printf("%+v\n", users.Stats())
}

// Token is a credential that expires.
type Token struct {
	Value  string
	Expiry time.Time
}

func fetchToken(ctx context.Context, service string) (Token, error) {
	return Token{Value: "secret", Expiry: time.Now().Add(time.Hour)}, nil
}

func ExampleOptions_ttlFunc() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Each token is cached until a minute before it expires, however
	// long Options.TTL is: that instant is a hard expiry, which jitter
	// only brings forward and no stale window extends.
	tokens, err := cache.New[Token](client, "token", cache.Options[Token]{
		TTL: 10 * time.Minute, // for the values TTLFunc leaves to it (0)
		TTLFunc: func(_ string, t Token) time.Duration {
			return time.Until(t.Expiry) - time.Minute
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer tokens.Close()

	tok, err := tokens.Fetch(context.Background(), "billing-api", cache.LoaderFunc[Token](fetchToken))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Value)
}

func ExampleCache_GetMany() {
	users, closeAll := openUsers(cache.Options[User]{TTL: time.Hour})
	defer closeAll()
	ctx := context.Background()

	// Warm the cache in one pipeline, then read many keys without a
	// loader: local hits first, one round trip per node for the rest.
	if err := users.SetMany(ctx, map[string]User{
		"42": {ID: "42", Name: "Ada"},
		"43": {ID: "43", Name: "Grace"},
	}); err != nil {
		log.Fatal(err)
	}
	found, err := users.GetMany(ctx, []string{"42", "43", "44"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(found)) // 2: "44" is missing, and not cached as absent
}

func ExampleCache_Clear() {
	users, closeAll := openUsers(cache.Options[User]{TTL: time.Hour})
	defer closeAll()

	// After a bulk import rewrote the users table: one write makes every
	// entry unreachable, at once in this process and within the
	// invalidation delay in the others, however many there are.
	if err := users.Clear(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func ExampleOptions_version() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Release 3 added a field to User. During the rolling deploy,
	// processes of releases 2 and 3 share Redis: with a version each
	// reads only its own entries (cache:user@3:{42} here), so neither
	// decodes the other's bytes into a wrong User. Release 3 starts cold.
	users, err := cache.New[User](client, "user", cache.Options[User]{
		TTL:     time.Hour,
		Version: "3",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	// Or derive the version from User's fields, so that a change of
	// the type can never ship with the old one.
	derived, err := cache.New[User](client, "user", cache.Options[User]{
		TTL:     time.Hour,
		Version: cache.ShapeVersion[User](),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer derived.Close()
}
