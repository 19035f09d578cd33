package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// outcome is what a caller of the cache sees in a row of docs/cache.md's
// "When Redis is down" table.
type outcome int

const (
	fromLoader  outcome = iota // the loader's value, no error
	unavailable                // an error matching ErrUnavailable
	unknown                    // an error that does not match ErrUnavailable: the command may have run
)

func (o outcome) String() string {
	return [...]string{"the loader's value", "an error matching ErrUnavailable", "an error not matching ErrUnavailable"}[o]
}

// outageOp is one operation of the cache, called on c with its Redis down.
type outageOp struct {
	name string
	call func(ctx context.Context, c *cache.Cache[int]) (int, error)
	// refused, breakerOpen and timeout are what the caller sees on the first
	// call after the node went down (connections refused), on the second
	// (the breaker open), and when the node holds the call (paused). A
	// refused connection matches ErrUnavailable from the first call: the
	// command was not sent.
	refused, breakerOpen, timeout outcome
}

// outageOps are the rows of docs/cache.md's "When Redis is down" table.
// The key "k" is in Redis, not in the local tier.
var outageOps = []outageOp{
	{"Get", func(ctx context.Context, c *cache.Cache[int]) (int, error) { return c.Get(ctx, "k") },
		unavailable, unavailable, unknown},
	{"Set", func(ctx context.Context, c *cache.Cache[int]) (int, error) { return 0, c.Set(ctx, "k", 2) },
		unavailable, unavailable, unknown},
	{"Delete", func(ctx context.Context, c *cache.Cache[int]) (int, error) { return 0, c.Delete(ctx, "k") },
		unavailable, unavailable, unknown},
	{"Fetch", func(ctx context.Context, c *cache.Cache[int]) (int, error) {
		return c.Fetch(ctx, "k", cache.LoaderFunc[int](func(context.Context, string) (int, error) { return 42, nil }))
	}, fromLoader, fromLoader, fromLoader},
	{"FetchMany", func(ctx context.Context, c *cache.Cache[int]) (int, error) {
		m, err := c.FetchMany(ctx, []string{"k", "j"}, cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
			return map[string]int{"k": 42, "j": 42}, nil
		}))
		if m["k"] != m["j"] {
			return 0, err // one key not answered by the loader
		}
		return m["k"], err
	}, fromLoader, fromLoader, fromLoader},
	{"Put", func(ctx context.Context, c *cache.Cache[int]) (int, error) {
		return 0, c.Put(ctx, "k", 2, cache.WriterFunc[int](func(context.Context, string, int) error { return nil }))
	}, unavailable, unavailable, unknown},
	{"Clear", func(ctx context.Context, c *cache.Cache[int]) (int, error) { return 0, c.Clear(ctx) },
		unavailable, unavailable, unknown},
}

// check fails t unless v, err is want.
func (o outcome) check(t *testing.T, what string, v int, err error) {
	t.Helper()
	var ok bool
	switch o {
	case fromLoader:
		ok = err == nil && v == 42
	case unavailable:
		ok = errors.Is(err, cache.ErrUnavailable) && errors.Is(err, typecache.ErrUnavailable)
	case unknown:
		ok = err != nil && !errors.Is(err, typecache.ErrUnavailable) && !errors.Is(err, typecache.ErrClosed)
	}
	if !ok {
		t.Errorf("%s: %d, %v; want %v", what, v, err, o)
	}
}

// outageCache returns a cache on a client of its own (each has its own
// breakers) with "k" stored.
func outageCache(t *testing.T, srv *redistest.Server, name string) (*cache.Cache[int], *typecache.Client) {
	t.Helper()
	client := srv.Client(t)
	c := newCache(t, client, name, cache.Options[int]{TTL: time.Hour, RedisTimeout: 200 * time.Millisecond})
	if err := c.Set(context.Background(), "k", 1); err != nil {
		t.Fatal(err)
	}
	return c, client
}

// TestRedisRefuses backs the "connections refused" and "breaker open"
// columns of docs/cache.md's "When Redis is down" table: with every master
// killed, each operation's first call on a client fails as a refused
// connection does, and its second is refused by the open breaker.
func TestRedisRefuses(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		name := cacheName(t)
		caches, clients := make([]*cache.Cache[int], len(outageOps)), make([]*typecache.Client, len(outageOps))
		for i := range outageOps {
			caches[i], clients[i] = outageCache(t, srv, name)
		}
		for _, node := range srv.Masters() {
			node.Kill()
		}
		for i, op := range outageOps {
			t.Run(op.name, func(t *testing.T) {
				srv.AwaitRefused(t, clients[i])
				v, err := op.call(context.Background(), caches[i])
				op.refused.check(t, "first call", v, err)
				v, err = op.call(context.Background(), caches[i])
				op.breakerOpen.check(t, "second call", v, err)
			})
		}
	})
}

// TestRedisHoldsCalls backs the "call times out" column of docs/cache.md's
// "When Redis is down" table: with every master paused, each operation
// fails after RedisTimeout with an error that does not say Redis was
// unavailable (the command may have run), or answers from the loader. The
// masters are frozen, not paused with CLIENT PAUSE: a pause ends at a fixed
// time, which a loaded machine can reach before the last operation runs.
func TestRedisHoldsCalls(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		name := cacheName(t)
		caches := make([]*cache.Cache[int], len(outageOps))
		for i := range outageOps {
			caches[i], _ = outageCache(t, srv, name)
		}
		for _, node := range srv.Masters() {
			node.Freeze(t)
		}
		for i, op := range outageOps {
			t.Run(op.name, func(t *testing.T) {
				v, err := op.call(context.Background(), caches[i])
				op.timeout.check(t, "call", v, err)
			})
		}
	})
}
