package bench

import (
	"context"
	"strconv"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
)

// parallelism×GOMAXPROCS goroutines make the requests of the parallel
// benchmarks, like the handlers of a busy server: enough for the clients
// that pipeline to show it.
const parallelism = 16

// BenchmarkLocalHit reads one hot key that each contender already holds in
// process memory, from one goroutine and from parallelism×GOMAXPROCS
// goroutines.
func BenchmarkLocalHit(b *testing.B) { benchmarkHit(b, localHitContenders) }

// BenchmarkRemoteHit reads one key that Redis holds, with every local tier and
// client-side cache off, so each read is a round trip plus a decode.
func BenchmarkRemoteHit(b *testing.B) { benchmarkHit(b, remoteContenders) }

func benchmarkHit(b *testing.B, contenders []cacheContender) {
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			srv := server(b)
			store := c.open(b, srv)
			key := redistest.Prefix(b) + "user"
			if err := roundTrip(ctx, store, key, sampleUser(1)); err != nil {
				b.Fatalf("%s: %v", c.name, err)
			}
			b.Run("single", func(b *testing.B) {
				b.ReportAllocs()
				before := srv.writes.Load()
				for b.Loop() {
					if _, err := store.Get(ctx, key); err != nil {
						b.Fatalf("%s: Get: %v", c.name, err)
					}
				}
				srv.reportRoundTrips(b, before)
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(parallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := store.Get(ctx, key); err != nil {
							b.Errorf("%s: Get: %v", c.name, err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkMissLoadStore asks for a key nobody has cached: each operation
// misses, calls an instant loader and stores the result. typecache runs with
// its cross-process stampede lock (the default) and without it. The single-goroutine
// benchmarks report round-trips/op: requests written to Redis per operation.
func BenchmarkMissLoadStore(b *testing.B) {
	user := sampleUser(1)
	load := func(context.Context) (User, error) { return user, nil }
	for _, c := range missContenders {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			srv := server(b)
			store := c.open(b, srv)
			prefix := redistest.Prefix(b)
			b.ReportAllocs()
			before := srv.writes.Load()
			i := 0
			for b.Loop() {
				i++
				if _, err := store.Fetch(ctx, prefix+strconv.Itoa(i), load); err != nil {
					b.Fatalf("%s: Fetch: %v", c.name, err)
				}
			}
			srv.reportRoundTrips(b, before)
		})
	}
}
