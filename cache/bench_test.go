package cache_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/internal/testkit/cputime"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// profile is the benchmarks' value: a struct of about 1 KB encoded.
type profile struct {
	ID     int64
	Name   string
	Email  string
	Tags   []string
	Bio    string
	Scores [16]float64
}

func newProfile(id int) profile {
	p := profile{
		ID: int64(id), Name: "Ada Lovelace", Email: "ada@example.com",
		Tags: []string{"math", "engines", "poetry", "notes"},
		Bio:  strings.Repeat("Analytical engine enthusiast. ", 26),
	}
	for i := range p.Scores {
		p.Scores[i] = float64(i) * 1.5
	}
	return p
}

var sinkProfile profile

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Standalone(b)
	value := newProfile(1)
	setUp := func(b *testing.B, opts cache.Options[profile]) *cache.Cache[profile] {
		c := newCache(b, srv.Client(b), cacheName(b), opts)
		if err := c.Set(ctx, "k", value); err != nil {
			b.Fatal(err)
		}
		for range 3 { // past the read-your-writes re-read, into the local tier
			if _, err := c.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
		return c
	}
	b.Run("local-hit", func(b *testing.B) {
		c := setUp(b, cache.Options[profile]{TTL: time.Hour})
		b.ReportAllocs()
		for b.Loop() {
			sinkProfile, _ = c.Get(ctx, "k")
		}
		if c.Stats().LocalHits < uint64(b.N) {
			b.Fatalf("not served locally: %+v", c.Stats())
		}
	})
	b.Run("local-hit-parallel", func(b *testing.B) {
		c := setUp(b, cache.Options[profile]{TTL: time.Hour})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var v profile
			for pb.Next() {
				v, _ = c.Get(ctx, "k")
			}
			_ = v
		})
		if c.Stats().LocalHits < uint64(b.N) {
			b.Fatalf("not served locally: %+v", c.Stats())
		}
	})
	b.Run("remote-hit", func(b *testing.B) {
		c := setUp(b, cache.Options[profile]{TTL: time.Hour, DisableLocal: true})
		b.ReportAllocs()
		for b.Loop() {
			sinkProfile, _ = c.Get(ctx, "k")
		}
	})
	for _, tt := range []struct {
		name   string
		noLock bool
	}{{"miss-load", false}, {"miss-load-no-lock", true}} {
		b.Run(tt.name, func(b *testing.B) {
			c := newCache(b, srv.Client(b), cacheName(b), cache.Options[profile]{TTL: time.Hour, DisableStampedeLock: tt.noLock})
			loader := cache.LoaderFunc[profile](func(context.Context, string) (profile, error) { return value, nil })
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := c.Fetch(ctx, strconv.Itoa(i), loader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaseline is what Get's remote hit is measured against: a plain
// rueidis DoCache GET and a decode of the same value with the same codec.
func BenchmarkBaseline(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Standalone(b)
	redis := srv.Client(b).Redis()
	key := redistest.Prefix(b) + "k"
	pack := codec.MsgPack[profile]()
	data, err := pack.Append(nil, newProfile(1))
	if err != nil {
		b.Fatal(err)
	}
	if err := redis.Do(ctx, redis.B().Set().Key(key).Value(string(data)).Build()).Error(); err != nil {
		b.Fatal(err)
	}
	b.Run("rueidis-get-decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bytes, err := redis.DoCache(ctx, redis.B().Get().Key(key).Cache(), time.Hour).AsBytes()
			if err != nil {
				b.Fatal(err)
			}
			if sinkProfile, err = pack.Decode(bytes); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkFetchMany(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Standalone(b)
	name := cacheName(b)
	c := newCache(b, srv.Client(b), name, cache.Options[profile]{TTL: time.Hour, DisableLocal: true})
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
		if err := c.Set(ctx, keys[i], newProfile(i)); err != nil {
			b.Fatal(err)
		}
	}
	loader := cache.BatchLoaderFunc[profile](func(context.Context, []string) (map[string]profile, error) {
		b.Fatal("loader called for keys held in Redis")
		return nil, nil
	})
	b.Run("100-remote", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if got, err := c.FetchMany(ctx, keys, loader); err != nil || len(got) != 100 {
				b.Fatal(len(got), err)
			}
		}
	})
}

// BenchmarkCodec compares the codecs a Cache may default to, on the
// benchmarks' value.
func BenchmarkCodec(b *testing.B) {
	for _, tt := range []struct {
		name  string
		codec codec.Codec[profile]
	}{{"msgpack", codec.MsgPack[profile]()}, {"json", codec.JSON[profile]()}} {
		data, err := tt.codec.Append(nil, newProfile(1))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tt.name+"-decode", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(data)), "bytes")
			for b.Loop() {
				sinkProfile, _ = tt.codec.Decode(data)
			}
		})
		b.Run(tt.name+"-encode", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 2048)
			for b.Loop() {
				buf, _ = tt.codec.Append(buf[:0], sinkProfile)
			}
		})
	}
}

// BenchmarkClear: the cost of Clear with 10 and with 100,000 entries in
// Redis, which is the same: it writes one key, whatever the entries.
func BenchmarkClear(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Standalone(b)
	for _, entries := range []int{10, 100_000} {
		b.Run("entries-"+strconv.Itoa(entries), func(b *testing.B) {
			c := newCache(b, srv.Client(b), cacheName(b), cache.Options[int]{TTL: time.Hour})
			batch := map[string]int{}
			for i := range entries {
				batch[strconv.Itoa(i)] = i
				if len(batch) == 1000 || i == entries-1 {
					if err := c.SetMany(ctx, batch); err != nil {
						b.Fatal(err)
					}
					clear(batch)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Clear(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdle: the CPU time (user and system) a process spends while its
// cache sits idle, one operation being 10 ms of sleep, beside the same
// process with its client alone. A cache's only work of its own while idle
// would be the clock of its reads, which stops ticking once reads are rare.
func BenchmarkIdle(b *testing.B) {
	srv := redistest.Standalone(b)
	for _, tt := range []struct {
		name string
		open bool
	}{{"client-only", false}, {"open-cache", true}} {
		b.Run(tt.name, func(b *testing.B) {
			client := srv.Client(b)
			if tt.open {
				c := newCache(b, client, cacheName(b), cache.Options[int]{TTL: time.Hour})
				if _, err := c.Get(context.Background(), "k"); err != cache.ErrNotFound {
					b.Fatalf("Get: %v", err)
				}
			}
			time.Sleep(100 * time.Millisecond) // the clock's quiet ticks, and the client's start
			start := cputime.Process()
			for b.Loop() {
				time.Sleep(10 * time.Millisecond)
			}
			b.ReportMetric(float64(cputime.Process()-start)/float64(b.N)/1e3, "cpu-µs/op")
		})
	}
}
