package faults_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// profile is the session data of the scenarios.
type profile struct{ Name string }

// stack is every typecache package on one client of a private server.
type stack struct {
	srv        *redistest.Server
	client     *typecache.Client
	cache      *cache.Cache[string]
	cacheName  string
	locks      *lock.Locker
	openLimit  *ratelimit.Limiter // FailOpen
	closeLimit *ratelimit.Limiter // FailClosed
	sessions   *session.Store[profile]
}

// lockValidity is short so that a lost lock shows within the scenarios.
const lockValidity = time.Second

func newStack(t *testing.T, srv *redistest.Server) *stack {
	t.Helper()
	s := &stack{srv: srv, client: srv.Client(t)}
	prefix := redistest.Name(t)
	var err error
	s.cacheName = prefix + "c"
	if s.cache, err = cache.New[string](s.client, s.cacheName, cache.Options[string]{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cache.Close)
	if s.locks, err = lock.New(s.client, lock.Options{Prefix: prefix + "lock", Validity: lockValidity}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.locks.Close)
	limit := ratelimit.Options{Limit: 10, Period: time.Minute, Prefix: prefix + "open"}
	if s.openLimit, err = ratelimit.New(s.client, limit); err != nil {
		t.Fatal(err)
	}
	limit.FailureMode, limit.Prefix = ratelimit.FailClosed, prefix+"closed"
	if s.closeLimit, err = ratelimit.New(s.client, limit); err != nil {
		t.Fatal(err)
	}
	if s.sessions, err = session.New(s.client, session.Options[profile]{Prefix: prefix + "s"}); err != nil {
		t.Fatal(err)
	}
	return s
}

// timed runs call under a deadline of d and returns how long it took; it
// fails t when the call outlived d by more than hangSlack.
func timed(t *testing.T, what string, d time.Duration, call func(ctx context.Context) error) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := call(ctx)
	took := time.Since(start)
	if took > d+hangSlack {
		t.Errorf("hang: %s took %s under a %s deadline", what, took, d)
	}
	return took, err
}

// lossWatch records when a held lock's Context ends.
type lossWatch struct {
	lock   *lock.Lock
	lostAt chan time.Time
}

func watchLoss(l *lock.Lock) *lossWatch {
	w := &lossWatch{lock: l, lostAt: make(chan time.Time, 1)}
	context.AfterFunc(l.Context(), func() { w.lostAt <- time.Now() })
	return w
}

// requireLost waits for the lock to be reported lost, at most limit after
// since, and returns when that happened.
func (w *lossWatch) requireLost(t *testing.T, since time.Time, limit time.Duration) time.Time {
	t.Helper()
	select {
	case at := <-w.lostAt:
		if cause := context.Cause(w.lock.Context()); !errors.Is(cause, lock.ErrNotHeld) {
			t.Errorf("lost lock's cause = %v, want one wrapping lock.ErrNotHeld", cause)
		}
		return at
	case <-time.After(time.Until(since.Add(limit))):
		t.Fatalf("lock %q still reported held %s after its lease could last no longer", w.lock.Name(), limit)
		return time.Time{}
	}
}

// eventually polls check until it returns nil or limit passes, and returns
// how long that took; the fault has no event to wait on.
func eventually(t *testing.T, what string, limit time.Duration, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: still failing after %s: %v", what, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
