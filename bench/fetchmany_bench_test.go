package bench

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// BenchmarkFetchMany100 reads 100 keys that Redis holds: typecache's
// FetchMany against a hand-written rueidis pipeline of the same reads plus
// the same decode. "remote": no local tier, no client-side cache, so every
// key is read from Redis; "cached": typecache's decoded tier against
// rueidis's DoMultiCache of bytes, both served in process after the first
// call.
func BenchmarkFetchMany100(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 100)
	none := cache.BatchLoaderFunc[User](func(context.Context, []string) (map[string]User, error) {
		b.Error("a key held in Redis was loaded")
		return nil, nil
	})
	for _, cached := range []bool{false, true} {
		mode := "remote"
		if cached {
			mode = "cached"
		}
		b.Run(mode, func(b *testing.B) {
			srv := server(b)
			prefix := redistest.Prefix(b)
			c, err := cache.New(srv.typecacheClient(b, true), "bench-fetchmany", cache.Options[User]{TTL: valueTTL, DisableLocal: !cached})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			for i := range keys {
				keys[i] = prefix + strconv.Itoa(i)
				if err := c.Set(ctx, keys[i], sampleUser(int64(i))); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("typecache", func(b *testing.B) {
				benchCallers(b, srv, workload{contender: "typecache", prepare: sameOp(func(ctx context.Context) error {
					got, err := c.FetchMany(ctx, keys, none)
					return manyErr("FetchMany", got, len(keys), err)
				})})
			})
			// The contender's own copies of the values, as it would store them.
			raw := srv.rueidisClient(b, cached)
			valueKeys := make([]string, len(keys))
			for i, k := range keys {
				valueKeys[i] = k + ":raw"
				data, err := encodeUser(sampleUser(int64(i)))
				if err != nil {
					b.Fatal(err)
				}
				if err := raw.Do(ctx, raw.B().Set().Key(valueKeys[i]).Value(rueidis.BinaryString(data)).Px(valueTTL).Build()).Error(); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("rueidis", func(b *testing.B) {
				benchCallers(b, srv, workload{contender: "rueidis", prepare: sameOp(func(ctx context.Context) error {
					got, err := rueidisGetMany(ctx, raw, valueKeys, cached)
					return manyErr("get", got, len(keys), err)
				})})
			})
		})
	}
}

// manyErr is the error of a call that should have returned want values.
func manyErr(call string, got map[string]User, want int, err error) error {
	if err == nil && len(got) != want {
		err = fmt.Errorf("%d values, want %d", len(got), want)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	return nil
}

// rueidisGetMany is the hand-written contender: one pipeline of GETs (from
// rueidis's client-side cache when cached), each decoded.
func rueidisGetMany(ctx context.Context, raw rueidis.Client, keys []string, cached bool) (map[string]User, error) {
	var results []rueidis.RedisResult
	if cached {
		cmds := make([]rueidis.CacheableTTL, len(keys))
		for i, k := range keys {
			cmds[i] = rueidis.CT(raw.B().Get().Key(k).Cache(), valueTTL)
		}
		results = raw.DoMultiCache(ctx, cmds...)
	} else {
		cmds := make(rueidis.Commands, len(keys))
		for i, k := range keys {
			cmds[i] = raw.B().Get().Key(k).Build()
		}
		results = raw.DoMulti(ctx, cmds...)
	}
	out := make(map[string]User, len(keys))
	for i, res := range results {
		data, err := res.AsBytes()
		if err != nil {
			return nil, err
		}
		u, err := decodeUser(data)
		if err != nil {
			return nil, err
		}
		out[keys[i]] = u
	}
	return out, nil
}

// BenchmarkLocalTierMemory fills a local tier with 10,000 entries and
// reports the heap that store then holds per entry (its client included,
// about 1–2 MiB of buffers, so a little over what the entries take):
// typecache's decoded tier against go-redis/cache's TinyLFU (which holds
// encoded bytes). The timed loop is a local hit.
func BenchmarkLocalTierMemory(b *testing.B) {
	const entries = 10_000
	ctx := context.Background()
	for _, c := range []cacheContender{typecacheLocal, localHitContenders[1]} {
		b.Run(c.name, func(b *testing.B) {
			srv := server(b)
			prefix := redistest.Prefix(b)
			before := heapInUse()
			store := c.open(b, srv)
			for i := range entries {
				key := prefix + strconv.Itoa(i)
				if err := store.Set(ctx, key, sampleUser(int64(i))); err != nil {
					b.Fatal(err)
				}
				for range 2 { // typecache keeps a value from a key's second remote read, which is tracked
					if _, err := store.Get(ctx, key); err != nil {
						b.Fatal(err)
					}
				}
			}
			perEntry := float64(heapInUse()-before) / entries
			hot := prefix + "0"
			b.ReportAllocs()
			spent := srv.startCost(b)
			for b.Loop() {
				if _, err := store.Get(ctx, hot); err != nil {
					b.Fatal(err)
				}
			}
			spent.report(b, false)
			b.ReportMetric(perEntry, "heap-bytes/entry")
			runtime.KeepAlive(store)
		})
	}
}

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
