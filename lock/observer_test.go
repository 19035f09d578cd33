package lock_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
	"github.com/typecache/typecache/ratelimit"
)

// recordingObserver keeps every call, one line each.
type recordingObserver struct {
	mu     sync.Mutex
	events []string
}

func (o *recordingObserver) add(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf(format, args...))
}

func (o *recordingObserver) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	events := o.events
	o.events = nil
	return events
}

func (o *recordingObserver) OnAcquired(name string, token int64, waited time.Duration) {
	o.add("acquired %s token=%d waited=%v", name, token, waited > 0)
}

func (o *recordingObserver) OnNotAcquired(name string, waited time.Duration, err error) {
	o.add("not acquired %s waited=%v not-acquired=%v canceled=%v", name, waited > 0, errors.Is(err, lock.ErrNotAcquired), errors.Is(err, context.Canceled))
}

func (o *recordingObserver) OnExtended(name string, err error) {
	o.add("extended %s err=%v", name, err)
}

func (o *recordingObserver) OnLost(name string, cause error) {
	o.add("lost %s not-held=%v", name, errors.Is(cause, lock.ErrNotHeld))
}

func (o *recordingObserver) OnReleased(name string, held time.Duration, err error) {
	o.add("released %s err=%v", name, err)
}

func TestObserver(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		obs := &recordingObserver{}
		lk, other := twoLockers(t, srv, lock.Options{Observer: obs, Validity: time.Minute, RecheckInterval: time.Minute})
		// expect compares in any order: another Locker's release and this
		// one's acquisition may be reported in either order.
		expect := func(want ...string) {
			t.Helper()
			got := obs.take()
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("observed %q, want %q", got, want)
			}
		}

		l, err := lk.TryAcquire(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		expect(fmt.Sprintf("acquired job token=%d waited=false", l.Token()))
		if _, err := lk.TryAcquire(ctx, "job"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatal(err)
		}
		expect("not acquired job waited=false not-acquired=true canceled=false")
		if err := l.Extend(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
		expect("extended job err=<nil>")
		release(t, l)
		expect("released job err=<nil>")

		// A lock lost behind its holder's back.
		l, err = lk.TryAcquire(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		if err := raw.Do(ctx, raw.B().Del().Key(l.Key()).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if err := l.Extend(ctx, time.Minute); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatal(err)
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatal(err)
		}
		expect(fmt.Sprintf("acquired job token=%d waited=false", l.Token()), "lost job not-held=true")

		// An Acquire that waits for another holder, and one that gives up.
		held, err := other.TryAcquire(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		obs.take()
		baseline := trackedKeys(t, srv)
		cancelled, cancel := context.WithCancel(ctx)
		gaveUp := make(chan error, 1)
		go func() {
			_, err := lk.Acquire(cancelled, "job")
			gaveUp <- err
		}()
		waitTracked(t, srv, baseline)
		cancel()
		if err := <-gaveUp; !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		expect("not acquired job waited=true not-acquired=false canceled=true")
		got := make(chan *lock.Lock, 1)
		go func() {
			l, err := lk.Acquire(ctx, "job")
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
		waitTracked(t, srv, baseline)
		release(t, held)
		l = <-got
		defer release(t, l)
		expect(fmt.Sprintf("acquired job token=%d waited=true", l.Token()), "released job err=<nil>")
	})
}

// TestFailFast: with the server gone (connections refused), every call
// returns an error at once instead of retrying until its context's
// deadline, and a held lock is reported lost by the end of its lease.
func TestFailFast(t *testing.T) {
	srv := redistest.NewStandalone(t)
	obs := &recordingObserver{}
	const validity = 600 * time.Millisecond
	lk := newLocker(t, srv.Client(t), lock.Options{Validity: validity, Observer: obs})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	held, err := lk.TryAcquire(ctx, "held")
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	stopped := time.Now()

	// Well under the 5 s deadline a retry loop would use up, and far above
	// the 0.1–0.3 ms these calls take, so that a loaded machine's
	// scheduling cannot fail the test.
	const quick = time.Second
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"TryAcquire", func() error { _, err := lk.TryAcquire(ctx, "other"); return err }},
		{"Acquire", func() error { _, err := lk.Acquire(ctx, "other"); return err }},
		{"Extend", func() error { return held.Extend(ctx, time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.call()
			elapsed := time.Since(start)
			t.Logf("%s: %v after %v", tc.name, err, elapsed)
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s = %v, want the connection error", tc.name, err)
			}
			if elapsed > quick {
				t.Fatalf("%s took %v, want under %v", tc.name, elapsed, quick)
			}
		})
	}
	select {
	case <-held.Context().Done():
	case <-time.After(validity + 500*time.Millisecond):
		t.Fatalf("held lock not reported lost %v after the server stopped", time.Since(stopped))
	}
	if err := held.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release of a lock lost to the outage = %v, want ErrNotHeld", err)
	}
	if events := obs.take(); !slices.Contains(events, "lost held not-held=true") {
		t.Fatalf("observed %q, want the loss", events)
	}
}

// TestContext: a Lock's Context carries the acquiring context's values, not
// its cancellation, and is cancelled with ErrReleased by Release, also when
// asked for only afterwards.
func TestContext(t *testing.T) {
	type key struct{}
	lk := newLocker(t, redistest.Standalone(t).Client(t), lock.Options{})
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	early, err := lk.TryAcquire(ctx, "early")
	if err != nil {
		t.Fatal(err)
	}
	late, err := lk.TryAcquire(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	lctx := early.Context()
	if lctx.Value(key{}) != "v" || lctx.Err() != nil {
		t.Fatalf("Context: value %v, err %v; want the acquiring ctx's value and no cancellation", lctx.Value(key{}), lctx.Err())
	}
	release(t, early)
	release(t, late)
	for _, l := range []*lock.Lock{early, late} {
		if cause := context.Cause(l.Context()); !errors.Is(cause, lock.ErrReleased) {
			t.Errorf("%s: Context cause after Release = %v, want ErrReleased", l.Name(), cause)
		}
	}
}

// TestBreakerSharedWithOtherPackages: the breakers belong to the client, so
// once another package on it (here a limiter) has found the server down,
// TryAcquire and Acquire fail at once with ErrUnavailable, in one sentence,
// and work again once the client's background probe finds the server back.
func TestBreakerSharedWithOtherPackages(t *testing.T) {
	srv := redistest.NewStandalone(t)
	ctx := context.Background()
	client := srv.Client(t, typecache.WithBreaker(5, 20*time.Millisecond))
	lk := newLocker(t, client, lock.Options{})
	limiter, err := ratelimit.New(client, ratelimit.Options{Prefix: redistest.Name(t), Limit: 1, Period: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	node := srv.Masters()[0]
	node.Kill()
	redistest.AwaitBreakerOpen(t, client, "job", func() { limiter.Allow(ctx, "k") })
	for _, call := range []func() error{
		func() error { _, err := lk.TryAcquire(ctx, "job"); return err },
		func() error { _, err := lk.Acquire(ctx, "job"); return err },
	} {
		err := call()
		if want := `lock: acquire "job": redis unavailable (circuit open)`; !errors.Is(err, lock.ErrUnavailable) || err.Error() != want {
			t.Fatalf("lock call after the limiter found the server down: %v; want %q wrapping ErrUnavailable", err, want)
		}
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		l, err := lk.TryAcquire(ctx, "job")
		if err == nil {
			return l.Release(ctx)
		}
		return err
	})
}

// TestFirstCallAfterRestart: after the server restarts (every connection
// closed by the server), the first calls succeed: no call may be sent on a
// connection that died while idle.
func TestFirstCallAfterRestart(t *testing.T) {
	srv := redistest.NewStandalone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := srv.Client(t)
	lk := newLocker(t, client, lock.Options{})
	for range 3 {
		l, err := lk.TryAcquire(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	node := srv.Masters()[0]
	node.Stop()
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	// The client's pipelined connections notice the restart at once (they
	// are always reading); wait until they have reconnected.
	r := client.Redis()
	redistest.Eventually(t, 5*time.Second, func() error { return r.Do(ctx, r.B().Ping().Build()).Error() })
	l, err := lk.TryAcquire(ctx, "job")
	if err != nil {
		t.Fatalf("first TryAcquire after the restart: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("first Release after the restart: %v", err)
	}
}
