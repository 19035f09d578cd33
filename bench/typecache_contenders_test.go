package bench

import (
	"context"
	"testing"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/redistest"
)

// typecacheLocal is a cache.Cache with its defaults: decoded local tier on,
// rueidis client-side caching under it.
var typecacheLocal = cacheContender{"typecache", func(tb testing.TB, srv *benchServer) userStore {
	return newTypecacheStore(tb, srv.typecacheClient(tb, true), cache.Options[User]{TTL: valueTTL})
}}

// typecacheRemote has the local tier off, on a client whose client-side cache
// is off too, so every read is served by Redis.
var typecacheRemote = cacheContender{"typecache", func(tb testing.TB, srv *benchServer) userStore {
	return newTypecacheStore(tb, srv.typecacheClient(tb, false), cache.Options[User]{TTL: valueTTL, DisableLocal: true})
}}

func newTypecacheStore(tb testing.TB, client *typecache.Client, opts cache.Options[User]) userStore {
	c, err := cache.New(client, redistest.Prefix(tb)+"users", opts)
	if err != nil {
		tb.Fatalf("cache.New: %v", err)
	}
	tb.Cleanup(c.Close)
	return typecacheStore{c}
}

// typecacheStore is a cache.Cache[User] as a userStore.
type typecacheStore struct{ cache *cache.Cache[User] }

func (s typecacheStore) Get(ctx context.Context, key string) (User, error) {
	return s.cache.Get(ctx, key)
}

func (s typecacheStore) Set(ctx context.Context, key string, u User) error {
	return s.cache.Set(ctx, key, u)
}

func (s typecacheStore) Fetch(ctx context.Context, key string, load func(context.Context) (User, error)) (User, error) {
	return s.cache.Fetch(ctx, key, cache.LoaderFunc[User](func(ctx context.Context, _ string) (User, error) { return load(ctx) }))
}
