package bench

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/rueidis"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/codec"
)

// valueSizes are the sizes of the values BenchmarkStoreValue stores.
var valueSizes = []int{100, 1000, 10_000}

// setFunc stores value under key for valueTTL.
type setFunc func(ctx context.Context, key string, value []byte) error

// A storeContender stores byte values as it would store any other.
type storeContender struct {
	name string
	open func(tb testing.TB, srv *benchServer) setFunc
}

var storeContenders = []storeContender{
	{"plain-set", func(tb testing.TB, srv *benchServer) setFunc {
		client := srv.rueidisClient(tb, false)
		return func(ctx context.Context, key string, value []byte) error {
			return client.Do(ctx, client.B().Set().Key(key).Value(rueidis.BinaryString(value)).Px(valueTTL).Build()).Error()
		}
	}},
	{"typecache", func(tb testing.TB, srv *benchServer) setFunc {
		c, err := cache.New(srv.typecacheClient(tb, true), "bench-values", cache.Options[[]byte]{TTL: valueTTL, Codec: codec.Bytes()})
		if err != nil {
			tb.Fatalf("cache.New: %v", err)
		}
		tb.Cleanup(c.Close)
		return func(ctx context.Context, key string, value []byte) error { return c.Set(ctx, key, value) }
	}},
	{"go-redis-cache", func(tb testing.TB, srv *benchServer) setFunc {
		c := gocache.New(&gocache.Options{Redis: srv.goRedis(tb)})
		return func(ctx context.Context, key string, value []byte) error {
			return c.Set(&gocache.Item{Ctx: ctx, Key: key, Value: value, TTL: valueTTL})
		}
	}},
}

// BenchmarkStoreValue stores a burst of values under new keys, the same
// random (incompressible) bytes for every contender, at 100 B, 1,000 B and
// 10 KB: plain-set is a bare SET with an expiry, the baseline; typecache is
// a cache.Cache[[]byte] with codec.Bytes and its defaults; go-redis/cache
// stores byte slices as they are. It runs on a server of its own, flushed
// before each run. After the burst of one caller it reports Redis's memory
// per value stored (redis-B/value: the used_memory delta over the values),
// the keys per value (keys/value: the DBSIZE delta over the values) and the
// memory of the keys that hold no value (guard-B/value: their MEMORY USAGE
// summed, over the values), such as typecache's guard keys: a stored value
// carries its own write mark, and a guard exists only while a load holds
// its lease, after a delete, or beside a value that expires within seconds.
func BenchmarkStoreValue(b *testing.B) {
	srv := privateServer(b)
	for _, size := range valueSizes {
		value := randomBytes(size)
		for _, c := range storeContenders {
			b.Run(sizeName(size)+"/"+c.name, func(b *testing.B) {
				set := c.open(b, srv)
				var next atomic.Int64
				benchCallers(b, srv, workload{
					contender: c.name,
					prepare: sameOp(func(ctx context.Context) error {
						return set(ctx, "value:"+strconv.FormatInt(next.Add(1), 10), value)
					}),
					measure: func(b *testing.B, callers int) func() {
						srv.flushAll(b)
						// The first write may load a script or create a
						// generation key: not part of a value's cost.
						if err := set(context.Background(), "value:warm", value); err != nil {
							b.Fatalf("%s: %v", c.name, err)
						}
						if callers != 1 {
							return nil // more connections: their buffers would count
						}
						before := srv.memory(b)
						return func() {
							after := srv.memory(b)
							n := float64(b.N)
							b.ReportMetric(float64(after.used-before.used)/n, "redis-B/value")
							b.ReportMetric(float64(after.keys-before.keys)/n, "keys/value")
							b.ReportMetric(float64(srv.valuelessKeyBytes(b, size))/n, "guard-B/value")
						}
					},
				})
			})
		}
	}
}

// randomBytes returns n bytes that no codec can compress, the same on every
// call.
func randomBytes(n int) []byte {
	r := rand.NewChaCha8([32]byte{})
	data := make([]byte, n)
	_, _ = r.Read(data)
	return data
}

// sizeName names a value size: 100B, 1000B, 10KB.
func sizeName(n int) string {
	if n >= 10_000 {
		return strconv.Itoa(n/1000) + "KB"
	}
	return strconv.Itoa(n) + "B"
}

// flushAll empties the server: only for a privateServer.
func (s *benchServer) flushAll(tb testing.TB) {
	// SYNC: Valkey 8 flushes asynchronously by default (lazyfree-lazy-user-flush),
	// and memory freed after the "before" reading would count against the values.
	if err := s.raw.Do(context.Background(), s.raw.B().Flushall().Sync().Build()).Error(); err != nil {
		tb.Fatalf("FLUSHALL: %v", err)
	}
}

// serverMemory is the memory a server uses and the keys it holds.
type serverMemory struct{ used, keys int64 }

func (s *benchServer) memory(tb testing.TB) serverMemory {
	ctx := context.Background()
	info, err := s.raw.Do(ctx, s.raw.B().Info().Section("memory").Build()).ToString()
	if err != nil {
		tb.Fatalf("INFO memory: %v", err)
	}
	keys, err := s.raw.Do(ctx, s.raw.B().Dbsize().Build()).AsInt64()
	if err != nil {
		tb.Fatalf("DBSIZE: %v", err)
	}
	return serverMemory{used: int64(infoField(tb, info, "used_memory")), keys: keys}
}

// valuelessKeyBytes returns the MEMORY USAGE, summed, of the keys that hold
// no value of size bytes or more: the keys a contender keeps beside its
// values.
func (s *benchServer) valuelessKeyBytes(tb testing.TB, size int) int64 {
	ctx := context.Background()
	var total int64
	cursor := uint64(0)
	for {
		entry, err := s.raw.Do(ctx, s.raw.B().Scan().Cursor(cursor).Count(1000).Build()).AsScanEntry()
		if err != nil {
			tb.Fatalf("SCAN: %v", err)
		}
		cmds := make(rueidis.Commands, 0, 2*len(entry.Elements))
		for _, key := range entry.Elements {
			cmds = append(cmds, s.raw.B().Strlen().Key(key).Build(), s.raw.B().MemoryUsage().Key(key).Build())
		}
		replies := s.raw.DoMulti(ctx, cmds...)
		for i := 0; i < len(replies); i += 2 {
			if n, err := replies[i].AsInt64(); err == nil && n >= int64(size) {
				continue // a value
			}
			bytes, err := replies[i+1].AsInt64()
			if err != nil && !rueidis.IsRedisNil(err) { // nil: expired meanwhile
				tb.Fatalf("MEMORY USAGE: %v", err)
			}
			total += bytes
		}
		if cursor = entry.Cursor; cursor == 0 {
			return total
		}
	}
}

// TestStoreContenders checks that every contender's values reach Redis
// whole, as the memory figures of BenchmarkStoreValue assume: 100 values of
// 1,000 B take at least 1,000 B and one key each, and a plain SET keeps no
// key beside its values.
func TestStoreContenders(t *testing.T) {
	const size, values = 1000, 100
	srv := privateServer(t)
	value := randomBytes(size)
	for _, c := range storeContenders {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			set := c.open(t, srv)
			srv.flushAll(t)
			before := srv.memory(t)
			for i := range values {
				if err := set(ctx, "value:"+strconv.Itoa(i), value); err != nil {
					t.Fatal(err)
				}
			}
			after := srv.memory(t)
			if perValue := (after.used - before.used) / values; perValue < size {
				t.Errorf("%d B of Redis memory per %d B value", perValue, size)
			}
			if after.keys-before.keys < values {
				t.Errorf("%d keys for %d values", after.keys-before.keys, values)
			}
			if c.name == "plain-set" {
				if extra := srv.valuelessKeyBytes(t, size); extra != 0 {
					t.Errorf("plain SET: %d B in keys without a value", extra)
				}
			}
		})
	}
}
