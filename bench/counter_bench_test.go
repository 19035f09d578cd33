package bench

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// counterTTL is the expiry every counter contender gives its keys.
const counterTTL = time.Hour

// counterOps is one contender's counter: add adds 1 to key, get reads it.
type counterOps struct {
	add func(ctx context.Context, key string) error
	get func(ctx context.Context, key string) (int64, error)
}

type counterContender struct {
	name string
	open func(tb testing.TB, srv *benchServer) counterOps
}

var counterContenders = []counterContender{
	{"typecache", func(tb testing.TB, srv *benchServer) counterOps {
		ctr := newCounter(tb, srv)
		return counterOps{
			add: func(ctx context.Context, key string) error { _, err := ctr.Add(ctx, key, 1); return err },
			get: ctr.Get,
		}
	}},
	{"typecache-buffered", func(tb testing.TB, srv *benchServer) counterOps {
		buf, err := newCounter(tb, srv).Buffered(counter.BufferOptions{})
		if err != nil {
			tb.Fatalf("Buffered: %v", err)
		}
		tb.Cleanup(func() { _ = buf.Close(context.Background()) })
		return counterOps{
			add: func(_ context.Context, key string) error { return buf.Add(key, 1) },
			get: buf.Get,
		}
	}},
	{"go-redis-incr-expire", func(tb testing.TB, srv *benchServer) counterOps {
		rdb := srv.goRedis(tb)
		// The usual hand-written counter: INCR and EXPIRE pipelined, so one
		// round trip, but two commands that a crash can separate, and an
		// expiry that every increment pushes back.
		return counterOps{
			add: func(ctx context.Context, key string) error {
				_, err := rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
					pipe.Incr(ctx, key)
					pipe.Expire(ctx, key, counterTTL)
					return nil
				})
				return err
			},
			get: func(ctx context.Context, key string) (int64, error) {
				n, err := rdb.Get(ctx, key).Int64()
				if err == goredis.Nil {
					return 0, nil
				}
				return n, err
			},
		}
	}},
}

func newCounter(tb testing.TB, srv *benchServer) *counter.Counter {
	ctr, err := counter.New(srv.typecacheClient(tb, true), redistest.Name(tb), counter.Options{TTL: counterTTL})
	if err != nil {
		tb.Fatalf("counter.New: %v", err)
	}
	return ctr
}

// BenchmarkCounterAdd increments one hot key.
func BenchmarkCounterAdd(b *testing.B) {
	benchmarkCounter(b, func(ctx context.Context, ops counterOps, key string) error { return ops.add(ctx, key) })
}

// BenchmarkCounterGet reads one key that does not change: a round trip for
// the plain counters, none for the buffered one, whose read cache Redis
// invalidates.
func BenchmarkCounterGet(b *testing.B) {
	benchmarkCounter(b, func(ctx context.Context, ops counterOps, key string) error {
		_, err := ops.get(ctx, key)
		return err
	})
}

func benchmarkCounter(b *testing.B, op func(ctx context.Context, ops counterOps, key string) error) {
	for _, c := range counterContenders {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			srv := server(b)
			ops := c.open(b, srv)
			key := redistest.Prefix(b) + "hot"
			if err := ops.add(ctx, key); err != nil {
				b.Fatalf("%s: add: %v", c.name, err)
			}
			benchCallers(b, srv, workload{contender: c.name, prepare: sameOp(func(ctx context.Context) error { return op(ctx, ops, key) })})
		})
	}
}

// TestCounterContenders checks that every contender counts: three adds, then
// a get of 3 (the buffered one counts its unflushed delta).
func TestCounterContenders(t *testing.T) {
	for _, c := range counterContenders {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			ops := c.open(t, server(t))
			key := redistest.Prefix(t) + "k"
			for range 3 {
				if err := ops.add(ctx, key); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // the second read may come from a cache
				if n, err := ops.get(ctx, key); err != nil || n != 3 {
					t.Fatalf("get = %d, %v; want 3", n, err)
				}
			}
		})
	}
}
