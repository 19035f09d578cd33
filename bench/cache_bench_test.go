package bench

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
)

// BenchmarkLocalHit reads one hot key that each contender already holds in
// process memory.
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
			benchCallers(b, srv, workload{contender: c.name, prepare: sameOp(func(ctx context.Context) error {
				_, err := store.Get(ctx, key)
				return err
			})})
		})
	}
}

// BenchmarkMissLoadStore asks for keys nobody has cached: each operation
// misses, calls an instant loader and stores the result. typecache runs with
// its cross-process stampede lock (the default) and without it.
func BenchmarkMissLoadStore(b *testing.B) {
	user := sampleUser(1)
	load := func(context.Context) (User, error) { return user, nil }
	for _, c := range missContenders {
		b.Run(c.name, func(b *testing.B) {
			srv := server(b)
			store := c.open(b, srv)
			prefix := redistest.Prefix(b)
			var next atomic.Int64
			benchCallers(b, srv, workload{contender: c.name, prepare: sameOp(func(ctx context.Context) error {
				_, err := store.Fetch(ctx, prefix+strconv.FormatInt(next.Add(1), 10), load)
				return err
			})})
		})
	}
}
