package lock_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
)

// BenchmarkAcquireRelease is one uncontended Acquire followed by Release:
// two round trips, plus scheduling and unscheduling the watchdog.
func BenchmarkAcquireRelease(b *testing.B) {
	for _, topology := range []struct {
		name string
		srv  func(testing.TB) *redistest.Server
	}{{"standalone", redistest.Standalone}, {"cluster", redistest.Cluster}} {
		b.Run(topology.name, func(b *testing.B) {
			lk := newLocker(b, topology.srv(b).Client(b), lock.Options{})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				l, err := lk.Acquire(ctx, "bench")
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Release(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAcquireReleaseParallel mirrors rueidislock's published
// benchmark: 10 goroutines on one Locker loop Acquire+Release on one name
// (b.RunParallel), so most acquisitions wait for a local release.
func BenchmarkAcquireReleaseParallel(b *testing.B) {
	lk := newLocker(b, redistest.Standalone(b).Client(b), lock.Options{})
	ctx := context.Background()
	b.SetParallelism(max(1, 10/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l, err := lk.Acquire(ctx, "bench")
			if err != nil {
				b.Error(err)
				return
			}
			if err := l.Release(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHandoff has goroutines on separate clients (as separate
// processes would be) contend for one lock on the standalone server. An op
// is one acquire+release by anyone; ns/handoff is the mean time from a
// holder starting Release to a goroutine of another client holding the lock.
func BenchmarkHandoff(b *testing.B) {
	for _, shape := range []struct {
		name               string
		clients, perClient int
	}{{"2-clients", 2, 1}, {"4-clients-x-4", 4, 4}} {
		b.Run(shape.name, func(b *testing.B) {
			srv := redistest.Standalone(b)
			opts := lock.Options{Prefix: redistest.Name(b)}
			lockers := make([]*lock.Locker, shape.clients)
			for i := range lockers {
				lockers[i] = newLocker(b, srv.Client(b), opts)
			}
			ctx := context.Background()
			var (
				remaining    atomic.Int64
				lastClient   atomic.Int64 // index+1 of the client that released last
				releasedAt   atomic.Int64 // UnixNano when that release started
				handoffs     atomic.Int64
				handoffNanos atomic.Int64
			)
			remaining.Store(int64(b.N))
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, lk := range lockers {
				for range shape.perClient {
					wg.Go(func() {
						for remaining.Add(-1) >= 0 {
							l, err := lk.Acquire(ctx, "hot")
							if err != nil {
								b.Error(err)
								return
							}
							if last := lastClient.Load(); last != 0 && last != int64(i+1) {
								handoffs.Add(1)
								handoffNanos.Add(time.Now().UnixNano() - releasedAt.Load())
							}
							lastClient.Store(int64(i + 1))
							releasedAt.Store(time.Now().UnixNano())
							if err := l.Release(ctx); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
			}
			wg.Wait()
			if n := handoffs.Load(); n > 0 {
				b.ReportMetric(float64(handoffNanos.Load())/float64(n), "ns/handoff")
				b.ReportMetric(float64(n)/float64(b.N), "handoffs/op")
			}
		})
	}
}
