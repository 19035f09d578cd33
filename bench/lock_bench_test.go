package bench

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
)

// Lock settings every contender uses: the lease, and the retry delay of the
// contenders that poll (typecache's waiters are woken by invalidations).
const (
	lockLease      = 5 * time.Second
	lockRetryDelay = time.Millisecond
)

// lockHold is how long a holder keeps the lock in BenchmarkLockHandoff after
// the other side started waiting, at least, so that the waiter is surely
// asleep (or between retries) when the release comes. A random extra of up
// to lockRetryDelay spreads the releases evenly over a poller's retry
// period, as releases at unrelated times would.
const lockHold = time.Millisecond

// lockFunc blocks until it holds the lock name, or ctx ends; release gives
// the lock up.
type lockFunc func(ctx context.Context, name string) (release func(context.Context) error, err error)

// A lockContender opens one locker on a client of its own, as one process of
// an application would have.
type lockContender struct {
	name string
	open func(tb testing.TB, srv *benchServer, prefix string) lockFunc
}

// typecacheLock is the typecache contender on a client with options.
func typecacheLock(options ...typecache.Option) func(tb testing.TB, srv *benchServer, prefix string) lockFunc {
	return func(tb testing.TB, srv *benchServer, prefix string) lockFunc {
		locker, err := lock.New(srv.typecacheClient(tb, true, options...), lock.Options{Prefix: prefix, Validity: lockLease})
		if err != nil {
			tb.Fatalf("lock.New: %v", err)
		}
		tb.Cleanup(locker.Close)
		return func(ctx context.Context, name string) (func(context.Context) error, error) {
			l, err := locker.Acquire(ctx, name)
			if err != nil {
				return nil, err
			}
			return l.Release, nil
		}
	}
}

var lockContenders = []lockContender{
	{"typecache", typecacheLock()}, // the reply poll on: the default
	{"typecache-nopoll", typecacheLock(typecache.WithReplyPoll(0))},
	{"redislock", func(tb testing.TB, srv *benchServer, prefix string) lockFunc {
		locker := redislock.New(srv.goRedis(tb))
		opts := &redislock.Options{RetryStrategy: redislock.LinearBackoff(lockRetryDelay)}
		return func(ctx context.Context, name string) (func(context.Context) error, error) {
			l, err := locker.Obtain(ctx, prefix+name, lockLease, opts)
			if err != nil {
				return nil, err
			}
			return l.Release, nil
		}
	}},
	{"redsync", func(tb testing.TB, srv *benchServer, prefix string) lockFunc {
		rs := redsync.New(goredis.NewPool(srv.goRedis(tb)))
		return func(ctx context.Context, name string) (func(context.Context) error, error) {
			m := rs.NewMutex(prefix+name, redsync.WithExpiry(lockLease),
				redsync.WithTries(math.MaxInt32), redsync.WithRetryDelay(lockRetryDelay))
			if err := m.LockContext(ctx); err != nil {
				return nil, err
			}
			return func(ctx context.Context) error {
				ok, err := m.UnlockContext(ctx)
				if err == nil && !ok {
					err = errors.New("redsync: lock was not held at unlock")
				}
				return err
			}, nil
		}
	}},
}

// BenchmarkLock takes and releases a free lock: the cost of a lock nobody
// else wants. Each caller has a lock name of its own, so that with 64
// callers the locks stay uncontended and the figure is the client's
// throughput.
func BenchmarkLock(b *testing.B) {
	for _, c := range lockContenders {
		b.Run(c.name+"/uncontended", func(b *testing.B) {
			srv := server(b)
			acquire := c.open(b, srv, redistest.Name(b))
			benchCallers(b, srv, workload{contender: c.name, prepare: func(_ testing.TB, caller int) op {
				name := "job" + strconv.Itoa(caller)
				return func(ctx context.Context) error {
					release, err := acquire(ctx, name)
					if err != nil {
						return err
					}
					return release(ctx)
				}
			}})
		})
	}
}

// BenchmarkLockHandoff has two lockers on separate clients, as two processes
// would have, pass one lock back and forth. The holder waits until the other
// side has asked for the lock and lockHold has passed, then releases; p50-ms
// and p99-ms are the times from the start of that release to the other side
// holding the lock. One op is one handoff; its CPU time includes the
// waiting side's (a poller spends it while the holder sleeps).
func BenchmarkLockHandoff(b *testing.B) {
	for _, c := range lockContenders {
		b.Run(c.name, func(b *testing.B) {
			latencies := runHandoffs(b, c, b.N)
			res := stampedeResult{Latencies: latencies} // for its Percentile
			b.ReportMetric(float64(res.Percentile(0.50))/float64(time.Millisecond), "p50-ms")
			b.ReportMetric(float64(res.Percentile(0.99))/float64(time.Millisecond), "p99-ms")
		})
	}
}

// runHandoffs passes a lock n times between two lockers of c and returns
// the handoff latencies. The sides take turns strictly: a side asks for the
// lock only once the other holds it, so every release hands the lock over.
func runHandoffs(tb testing.TB, c lockContender, n int) []time.Duration {
	srv := server(tb)
	prefix := redistest.Name(tb)
	sides := [2]lockFunc{c.open(tb, srv, prefix), c.open(tb, srv, prefix)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var (
		asking    = [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)} // side i is about to ask
		holding   = [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)} // side i holds the lock
		mu        sync.Mutex
		releasing time.Time // when the current holder started releasing
		latencies = make([]time.Duration, 0, n)
	)
	// wait receives from ch, or reports false once ctx ends.
	wait := func(ch chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-ctx.Done():
			return false
		}
	}
	first, err := sides[0](ctx, "hot")
	if err != nil {
		tb.Fatal(err)
	}
	b, timed := tb.(*testing.B)
	var spent cost
	if timed {
		b.ReportAllocs()
		spent = srv.startCost(b) // not the clients' connections
	}
	var wg sync.WaitGroup
	for i := range sides {
		wg.Go(func() {
			var release func(context.Context) error
			if i == 0 {
				release = first
			}
			for {
				if release == nil {
					asking[i] <- struct{}{}
					r, err := sides[i](ctx, "hot")
					if ctx.Err() != nil {
						return // the other side made the last handoff
					}
					if err != nil {
						tb.Error(err)
						cancel()
						return
					}
					mu.Lock()
					latencies = append(latencies, time.Since(releasing))
					done := len(latencies) >= n
					mu.Unlock()
					release = r
					holding[i] <- struct{}{}
					if done {
						cancel() // the other side stops
						_ = release(context.Background())
						return
					}
				}
				if !wait(asking[1-i]) {
					_ = release(context.Background())
					return
				}
				time.Sleep(lockHold + rand.N(lockRetryDelay))
				mu.Lock()
				releasing = time.Now()
				mu.Unlock()
				// Not ctx: the other side may hold the lock, finish and
				// cancel ctx before this call returns.
				if err := release(context.Background()); err != nil {
					tb.Error(err)
					cancel()
					return
				}
				release = nil
				if !wait(holding[1-i]) {
					return
				}
			}
		})
	}
	wg.Wait()
	if timed {
		spent.report(b, false)
	}
	return latencies
}

// TestLockContenders checks each contender's mutual exclusion and handoff:
// a held lock blocks the other side until released.
func TestLockContenders(t *testing.T) {
	for _, c := range lockContenders {
		t.Run(c.name, func(t *testing.T) {
			if got := runHandoffs(t, c, 5); len(got) != 5 {
				t.Fatalf("%d handoffs, want 5", len(got))
			}
			srv := server(t)
			prefix := redistest.Name(t)
			a, b := c.open(t, srv, prefix), c.open(t, srv, prefix)
			ctx := context.Background()
			release, err := a(ctx, "exclusive")
			if err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if _, err := b(short, "exclusive"); err == nil {
				t.Fatal("the other side took a held lock")
			}
			if err := release(ctx); err != nil {
				t.Fatal(err)
			}
			release, err = b(ctx, "exclusive")
			if err != nil {
				t.Fatalf("the lock was not free after release: %v", err)
			}
			if err := release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
