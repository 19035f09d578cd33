package transport_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/testkit/cputime"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/transport"
	"github.com/typecache/typecache/lock"
)

// BenchmarkReplyPoll measures what the direct client's reply poll buys and
// costs: an uncontended lock Acquire+Release (two round trips on the
// direct client) with the poll off and on (the 50 µs window), by 1 and by
// 64 goroutines at once (each on a lock of its own), on the standalone
// server. Besides ns/op it reports the process's CPU time per op
// (getrusage: user and system, every goroutine of the client included) and
// the reads that polled per op. Compare the two with benchstat; the
// figures depend on the machine.
func BenchmarkReplyPoll(b *testing.B) {
	srv := redistest.Standalone(b)
	for _, poll := range []struct {
		name   string
		window time.Duration
	}{{"poll=off", 0}, {"poll=on", 50 * time.Microsecond}} {
		for _, goroutines := range []int{1, 64} {
			b.Run(poll.name+"/goroutines="+strconv.Itoa(goroutines), func(b *testing.B) {
				client := srv.Client(b, typecache.WithReplyPoll(poll.window))
				lk, err := lock.New(client, lock.Options{Prefix: redistest.Name(b)})
				if err != nil {
					b.Fatal(err)
				}
				defer lk.Close()
				benchmarkAcquireRelease(b, lk, goroutines)
				b.ReportMetric(float64(clientconn.Of(client).Polls())/float64(b.N), "polls/op")
			})
		}
	}
}

// benchmarkAcquireRelease runs b.N Acquire+Release on lk from goroutines
// goroutines, each on a name of its own, and reports the process's CPU
// time per op.
func benchmarkAcquireRelease(b *testing.B, lk *lock.Locker, goroutines int) {
	ctx := context.Background()
	var names atomic.Int64
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((goroutines + procs - 1) / procs)
	start := cputime.Process()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		name := "n" + strconv.FormatInt(names.Add(1), 10)
		for pb.Next() {
			if err := acquireRelease(ctx, lk, name); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric((cputime.Process()-start).Seconds()*1e6/float64(b.N), "client-cpu-µs/op")
}

// acquireRelease takes the lock name and releases it.
func acquireRelease(ctx context.Context, lk *lock.Locker, name string) error {
	l, err := lk.Acquire(ctx, name)
	if err != nil {
		return err
	}
	return l.Release(ctx)
}

// BenchmarkLoneRead measures one caller's GET by each route a package can
// send it: DoTracked (MULTI, CLIENT CACHING YES, GET, EXEC on the tracking
// connection, whose writer and reader goroutines the call wakes), the
// tracking client's plain Do, and DoUntracked (a direct connection, read on
// the caller's goroutine, with the reply poll on and off). It reports the
// process's CPU time per op beside the time; the gap between the first and
// the last is what a read that fills a local tier pays for being tracked.
func BenchmarkLoneRead(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Standalone(b)
	key := redistest.Prefix(b) + "k"
	for _, route := range []struct {
		name string
		poll time.Duration
		read func(c *transport.Conn, cmd rueidis.Completed) error
	}{
		{"tracked", 0, func(c *transport.Conn, cmd rueidis.Completed) error {
			_, err := c.DoTracked(ctx, cmd)
			return err
		}},
		{"tracking-client", 0, func(c *transport.Conn, cmd rueidis.Completed) error {
			return c.Redis().Do(ctx, cmd).Error()
		}},
		{"direct/poll=off", 0, func(c *transport.Conn, cmd rueidis.Completed) error {
			_, err := c.DoUntracked(ctx, cmd)
			return err
		}},
		{"direct/poll=on", 50 * time.Microsecond, func(c *transport.Conn, cmd rueidis.Completed) error {
			_, err := c.DoUntracked(ctx, cmd)
			return err
		}},
	} {
		b.Run(route.name, func(b *testing.B) {
			conn := clientconn.Of(srv.Client(b, typecache.WithReplyPoll(route.poll)))
			r := conn.Redis()
			if err := r.Do(ctx, r.B().Set().Key(key).Value("v").Build()).Error(); err != nil {
				b.Fatal(err)
			}
			start := cputime.Process()
			for b.Loop() {
				if err := route.read(conn, r.B().Get().Key(key).Build()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cputime.Process()-start).Seconds()*1e6/float64(b.N), "client-cpu-µs/op")
		})
	}
}
