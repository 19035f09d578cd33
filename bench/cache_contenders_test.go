package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/typecache/typecache/codec"
)

// valueTTL is the expiry every contender gives the values it stores.
const valueTTL = time.Minute

// errMiss is what the plain-client contenders return for an absent key.
var errMiss = errors.New("bench: cache miss")

// A userStore is one contender's typed cache, as the cache workloads use it.
type userStore interface {
	// Get returns the cached value of key.
	Get(ctx context.Context, key string) (User, error)
	// Set caches u under key for valueTTL.
	Set(ctx context.Context, key string, u User) error
	// Fetch returns the cached value of key, or calls load and caches its result.
	Fetch(ctx context.Context, key string, load func(context.Context) (User, error)) (User, error)
}

// A cacheContender builds one contender's userStore on a server.
type cacheContender struct {
	name string
	open func(tb testing.TB, srv *benchServer) userStore
	// staleAfterOwnWrite: a read right after this process's own write may
	// return the old reply (plain rueidis DoCache: the invalidation of an
	// own write arrives after the write's reply, rueidis issue #534).
	staleAfterOwnWrite bool
}

// localHitContenders serve a repeated read from process memory.
var localHitContenders = []cacheContender{
	typecacheLocal,
	{name: "go-redis-cache", open: func(tb testing.TB, srv *benchServer) userStore {
		return goRedisCacheStore{gocache.New(&gocache.Options{
			Redis:      srv.goRedis(tb),
			LocalCache: gocache.NewTinyLFU(10_000, valueTTL),
		})}
	}},
	{name: "rueidis-docache", open: func(tb testing.TB, srv *benchServer) userStore {
		return rueidisStore(srv.rueidisClient(tb, true), true)
	}, staleAfterOwnWrite: true},
}

// remoteContenders ask Redis on every read: no local tier, no client-side cache.
var remoteContenders = []cacheContender{
	typecacheRemote,
	goRedisCacheRemote,
	{name: "rueidis", open: func(tb testing.TB, srv *benchServer) userStore {
		return rueidisStore(srv.rueidisClient(tb, false), false)
	}},
	{name: "go-redis", open: func(tb testing.TB, srv *benchServer) userStore {
		return goRedisStore(srv.goRedis(tb))
	}},
}

// missContenders are the remote contenders plus typecache without its
// cross-process stampede lock (the same round trips; waiters load too) and
// typecache with its defaults, whose local tier admits a key on its second
// read: a cold miss's read goes untracked.
var missContenders = append([]cacheContender{typecacheRemoteNoLock, typecacheLocalTier}, remoteContenders...)

// goRedisCacheRemote is go-redis/cache without a local cache.
var goRedisCacheRemote = cacheContender{name: "go-redis-cache", open: func(tb testing.TB, srv *benchServer) userStore {
	return goRedisCacheStore{gocache.New(&gocache.Options{Redis: srv.goRedis(tb)})}
}}

// goRedisCacheStore is github.com/go-redis/cache/v9 with its defaults:
// MessagePack, s2 compression above 64 bytes, singleflight in Once.
type goRedisCacheStore struct{ cache *gocache.Cache }

func (s goRedisCacheStore) Get(ctx context.Context, key string) (User, error) {
	var u User
	err := s.cache.Get(ctx, key, &u)
	return u, err
}

func (s goRedisCacheStore) Set(ctx context.Context, key string, u User) error {
	return s.cache.Set(&gocache.Item{Ctx: ctx, Key: key, Value: &u, TTL: valueTTL})
}

func (s goRedisCacheStore) Fetch(ctx context.Context, key string, load func(context.Context) (User, error)) (User, error) {
	var u User
	err := s.cache.Once(&gocache.Item{Ctx: ctx, Key: key, Value: &u, TTL: valueTTL,
		Do: func(item *gocache.Item) (any, error) { return load(item.Context()) },
	})
	return u, err
}

// plainStore is the recipe a user writes by hand on a bare client: GET and
// decode; on a miss, load, encode and SET.
type plainStore struct {
	// read returns the bytes under key, or errMiss.
	read  func(ctx context.Context, key string) ([]byte, error)
	write func(ctx context.Context, key string, data []byte) error
}

func (s plainStore) Get(ctx context.Context, key string) (User, error) {
	data, err := s.read(ctx, key)
	if err != nil {
		return User{}, err
	}
	return decodeUser(data)
}

func (s plainStore) Set(ctx context.Context, key string, u User) error {
	data, err := encodeUser(u)
	if err != nil {
		return err
	}
	return s.write(ctx, key, data)
}

func (s plainStore) Fetch(ctx context.Context, key string, load func(context.Context) (User, error)) (User, error) {
	u, err := s.Get(ctx, key)
	if !errors.Is(err, errMiss) {
		return u, err
	}
	if u, err = load(ctx); err != nil {
		return User{}, err
	}
	return u, s.Set(ctx, key, u)
}

// rueidisStore is plainStore on rueidis; clientSideCache reads through DoCache.
func rueidisStore(client rueidis.Client, clientSideCache bool) plainStore {
	return plainStore{
		read: func(ctx context.Context, key string) ([]byte, error) {
			var reply rueidis.RedisResult
			if clientSideCache {
				reply = client.DoCache(ctx, client.B().Get().Key(key).Cache(), valueTTL)
			} else {
				reply = client.Do(ctx, client.B().Get().Key(key).Build())
			}
			data, err := reply.AsBytes()
			if rueidis.IsRedisNil(err) {
				return nil, errMiss
			}
			return data, err
		},
		write: func(ctx context.Context, key string, data []byte) error {
			return client.Do(ctx, client.B().Set().Key(key).Value(rueidis.BinaryString(data)).Ex(valueTTL).Build()).Error()
		},
	}
}

// goRedisStore is plainStore on go-redis.
func goRedisStore(client *goredis.Client) plainStore {
	return plainStore{
		read: func(ctx context.Context, key string) ([]byte, error) {
			data, err := client.Get(ctx, key).Bytes()
			if errors.Is(err, goredis.Nil) {
				return nil, errMiss
			}
			return data, err
		},
		write: func(ctx context.Context, key string, data []byte) error {
			return client.Set(ctx, key, data, valueTTL).Err()
		},
	}
}

// userCodec is the codec of the plain-client contenders: the one typecache's
// cache uses by default, so every contender but go-redis/cache decodes the
// same bytes the same way.
var userCodec = codec.MsgPack[User]()

func encodeUser(u User) ([]byte, error) { return userCodec.Append(nil, u) }

func decodeUser(data []byte) (User, error) { return userCodec.Decode(data) }
