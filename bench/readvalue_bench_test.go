package bench

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/rueidis"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// A readContender stores a byte value once and then reads it back, with
// every local tier and client-side cache off.
type readContender struct {
	name string
	open func(tb testing.TB, srv *benchServer) (setFunc, func(ctx context.Context, key string) ([]byte, error))
}

var readContenders = []readContender{
	{"plain-get", func(tb testing.TB, srv *benchServer) (setFunc, func(context.Context, string) ([]byte, error)) {
		client := srv.rueidisClient(tb, false)
		set := func(ctx context.Context, key string, value []byte) error {
			return client.Do(ctx, client.B().Set().Key(key).Value(rueidis.BinaryString(value)).Px(valueTTL).Build()).Error()
		}
		return set, func(ctx context.Context, key string) ([]byte, error) {
			return client.Do(ctx, client.B().Get().Key(key).Build()).AsBytes()
		}
	}},
	{"typecache", func(tb testing.TB, srv *benchServer) (setFunc, func(context.Context, string) ([]byte, error)) {
		c, err := cache.New(srv.typecacheClient(tb, true), "bench-reads", cache.Options[[]byte]{TTL: valueTTL, Codec: codec.Bytes(), DisableLocal: true})
		if err != nil {
			tb.Fatalf("cache.New: %v", err)
		}
		tb.Cleanup(c.Close)
		load := cache.LoaderFunc[[]byte](func(_ context.Context, key string) ([]byte, error) {
			return nil, fmt.Errorf("%s was not stored", key)
		})
		return func(ctx context.Context, key string, value []byte) error { return c.Set(ctx, key, value) },
			func(ctx context.Context, key string) ([]byte, error) { return c.Fetch(ctx, key, load) }
	}},
	{"go-redis-cache", func(tb testing.TB, srv *benchServer) (setFunc, func(context.Context, string) ([]byte, error)) {
		c := gocache.New(&gocache.Options{Redis: srv.goRedis(tb)})
		set := func(ctx context.Context, key string, value []byte) error {
			return c.Set(&gocache.Item{Ctx: ctx, Key: key, Value: value, TTL: valueTTL})
		}
		return set, func(ctx context.Context, key string) ([]byte, error) {
			var v []byte
			err := c.Get(ctx, key, &v)
			return v, err
		}
	}},
}

// BenchmarkReadValue reads one stored key, the same random bytes for every
// contender at 100 B, 1,000 B and 10 KB, with every local tier off: each
// read is a round trip, each caller reading a key of its own. plain-get is a bare GET, the baseline; typecache
// is a Fetch of a cache.Cache[[]byte] with codec.Bytes and DisableLocal
// (its read script, which takes the load lease on a miss; for large
// values the script reads the value's header and a GET in the same
// transaction the value); go-redis/cache is a Get.
func BenchmarkReadValue(b *testing.B) {
	for _, size := range valueSizes {
		value := randomBytes(size)
		for _, c := range readContenders {
			b.Run(sizeName(size)+"/"+c.name, func(b *testing.B) {
				srv := server(b)
				set, get := c.open(b, srv)
				prefix := redistest.Prefix(b)
				// A key per caller: typecache's Fetch would otherwise answer
				// concurrent callers of one key with one read.
				benchCallers(b, srv, workload{contender: c.name, prepare: func(tb testing.TB, caller int) op {
					key := prefix + strconv.Itoa(caller)
					if err := set(context.Background(), key, value); err != nil {
						tb.Fatalf("%s: %v", c.name, err)
					}
					return func(ctx context.Context) error {
						v, err := get(ctx, key)
						if err == nil && len(v) != size {
							err = fmt.Errorf("read %d bytes, want %d", len(v), size)
						}
						return err
					}
				}})
			})
		}
	}
}
