package bench

import (
	"context"
	"testing"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
)

// typecacheLocal is a cache.Cache with its defaults: decoded local tier on,
// rueidis client-side caching under it.
var typecacheLocal = cacheContender{name: "typecache", open: func(tb testing.TB, srv *benchServer) userStore {
	return newTypecacheStore(tb, srv.typecacheClient(tb, true), cache.Options[User]{TTL: valueTTL})
}}

// typecacheLocalTier is typecacheLocal under another name, for the
// workloads that also run typecache with its local tier off.
var typecacheLocalTier = cacheContender{name: "typecache-local-tier", open: typecacheLocal.open}

// typecacheRemote has the local tier off, so every read is served by Redis.
// Its client tracks (the default), which keeps the cache's generation (see
// Clear) known without a read per call; the cache itself reads no value
// through rueidis's client-side cache.
var typecacheRemote = cacheContender{name: "typecache", open: func(tb testing.TB, srv *benchServer) userStore {
	return newTypecacheStore(tb, srv.typecacheClient(tb, true), cache.Options[User]{TTL: valueTTL, DisableLocal: true})
}}

// typecacheRemoteNoLock is typecacheRemote without cross-process stampede
// protection: a miss skips the lease, as go-redis/cache's Once does.
var typecacheRemoteNoLock = cacheContender{name: "typecache-nolock", open: func(tb testing.TB, srv *benchServer) userStore {
	return newTypecacheStore(tb, srv.typecacheClient(tb, true), cache.Options[User]{TTL: valueTTL, DisableLocal: true, DisableStampedeLock: true})
}}

func newTypecacheStore(tb testing.TB, client *typecache.Client, opts cache.Options[User]) userStore {
	// One name in every process: the stampede's processes must share keys.
	// Tests keep apart through their keys, which start with redistest.Prefix.
	c, err := cache.New(client, "bench-users", opts)
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
