package lock_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// newLocker returns a Locker on c under a prefix unique to the test.
func newLocker(t testing.TB, c *typecache.Client, opts lock.Options) *lock.Locker {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = redistest.Name(t)
	}
	lk, err := lock.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lk.Close)
	return lk
}

// twoLockers returns two Lockers with the same options and prefix on two
// clients, as two processes would have.
func twoLockers(t testing.TB, srv *redistest.Server, opts lock.Options) (*lock.Locker, *lock.Locker) {
	t.Helper()
	opts.Prefix = redistest.Name(t)
	return newLocker(t, srv.Client(t), opts), newLocker(t, srv.Client(t), opts)
}

func release(t testing.TB, l *lock.Lock) {
	t.Helper()
	if err := l.Release(context.Background()); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

// pttl returns key's PTTL as a Duration (-1ms: no expiry, -2ms: no key).
func pttl(t testing.TB, raw rueidis.Client, key string) time.Duration {
	t.Helper()
	ms, err := raw.Do(context.Background(), raw.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return time.Duration(ms) * time.Millisecond
}

func TestOptionsInvalid(t *testing.T) {
	c := redistest.Standalone(t).Client(t)
	for _, tc := range []struct {
		name  string
		opts  lock.Options
		field string
	}{
		{"prefix with tag", lock.Options{Prefix: "a{b}"}, "Options.Prefix"},
		{"prefix with separator", lock.Options{Prefix: "a:b"}, "Options.Prefix"},
		{"prefix with space", lock.Options{Prefix: "a b"}, "Options.Prefix"},
		{"prefix too long", lock.Options{Prefix: strings.Repeat("p", 101)}, "Options.Prefix"},
		{"negative validity", lock.Options{Validity: -time.Second}, "Options.Validity"},
		{"sub-millisecond validity", lock.Options{Validity: time.Microsecond}, "Options.Validity"},
		{"extend not below validity", lock.Options{Validity: time.Second, ExtendInterval: time.Second}, "Options.ExtendInterval"},
		{"negative extend", lock.Options{ExtendInterval: -1}, "Options.ExtendInterval"},
		{"negative recheck", lock.Options{RecheckInterval: -1}, "Options.RecheckInterval"},
		{"sub-millisecond recheck", lock.Options{RecheckInterval: time.Microsecond}, "Options.RecheckInterval"},
		{"fence shorter than lease", lock.Options{FenceTTL: time.Second}, "Options.FenceTTL"},
		{"negative fence", lock.Options{FenceTTL: -1}, "Options.FenceTTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			_, err := lock.New(c, opts)
			if !errors.Is(err, lock.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("New(%+v) = %v, want ErrInvalidOptions naming %s", tc.opts, err, tc.field)
			}
			if opts != tc.opts {
				t.Fatalf("New modified the options: %+v", opts)
			}
		})
	}
	t.Run("nil client", func(t *testing.T) {
		if _, err := lock.New(nil, lock.Options{}); !errors.Is(err, lock.ErrInvalidOptions) || !strings.Contains(err.Error(), "*typecache.Client") {
			t.Fatalf("New(nil) = %v, want ErrInvalidOptions naming the client", err)
		}
	})
}

// TestNilAndEmptyArguments: no exported function panics on a nil or empty
// argument; each returns an error.
func TestNilAndEmptyArguments(t *testing.T) {
	ctx := context.Background()
	lk := newLocker(t, redistest.Standalone(t).Client(t), lock.Options{})
	var nilLocker *lock.Locker
	var nilLock *lock.Lock
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"TryAcquire empty name", func() error { _, err := lk.TryAcquire(ctx, ""); return err }},
		{"Acquire empty name", func() error { _, err := lk.Acquire(ctx, ""); return err }},
		{"nil Locker TryAcquire", func() error { _, err := nilLocker.TryAcquire(ctx, "x"); return err }},
		{"nil Locker Acquire", func() error { _, err := nilLocker.Acquire(ctx, "x"); return err }},
		{"nil Lock Release", func() error { return nilLock.Release(ctx) }},
		{"nil Lock Extend", func() error { return nilLock.Extend(ctx, time.Second) }},
		{"nil Lock Context", func() error { return context.Cause(nilLock.Context()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil || errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("got %v, want an argument error", err)
			}
		})
	}
	if _, err := lk.TryAcquire(ctx, ""); !errors.Is(err, lock.ErrEmptyKey) {
		t.Fatalf("TryAcquire of an empty name: %v, want ErrEmptyKey", err)
	}
	nilLocker.Close()
	if nilLock.Name() != "" || nilLock.Key() != "" || nilLock.Token() != 0 {
		t.Fatal("a nil Lock reports a name, key or token")
	}
}

// TestKeyLayout checks the keys a Locker writes: "lock:<Prefix>:{name}" and
// "lock:<Prefix>:f{name}", the name percent-encoded, and that Lockers with
// different prefixes share nothing.
func TestKeyLayout(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		prefix := redistest.Name(t)
		lk := newLocker(t, srv.Client(t), lock.Options{Prefix: prefix})
		for _, tc := range []struct{ name, lockKey, fenceKey string }{
			{"job", "lock:" + prefix + ":{job}", "lock:" + prefix + ":f{job}"},
			{"a}b", "lock:" + prefix + ":{a%7Db}", "lock:" + prefix + ":f{a%7Db}"},
			{"100%", "lock:" + prefix + ":{100%25}", "lock:" + prefix + ":f{100%25}"},
			{"{job}", "lock:" + prefix + ":{{job%7D}", "lock:" + prefix + ":f{{job%7D}"},
		} {
			l, err := lk.TryAcquire(ctx, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if l.Key() != tc.lockKey || lock.FenceKey(l) != tc.fenceKey {
				t.Errorf("%q: keys %q, %q; want %q, %q", tc.name, l.Key(), lock.FenceKey(l), tc.lockKey, tc.fenceKey)
			}
			n, err := raw.Do(ctx, raw.B().Exists().Key(tc.lockKey, tc.fenceKey).Build()).AsInt64()
			if err != nil || n != 2 {
				t.Errorf("%q: EXISTS = %d, %v; want both keys", tc.name, n, err)
			}
			release(t, l)
		}
		other := newLocker(t, srv.Client(t), lock.Options{Prefix: prefix + "-other"})
		held, err := lk.TryAcquire(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		defer release(t, held)
		l, err := other.TryAcquire(ctx, "job")
		if err != nil {
			t.Fatalf("another prefix's lock of the same name is blocked: %v", err)
		}
		release(t, l)
	})
}

func TestTryAcquireRelease(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		a, b := twoLockers(t, srv, lock.Options{})

		first, err := a.TryAcquire(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		if first.Name() != "job" || first.Token() < 1 {
			t.Fatalf("Name %q Token %d", first.Name(), first.Token())
		}
		if _, err := b.TryAcquire(ctx, "job"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryAcquire of a held lock from another client = %v, want ErrNotAcquired", err)
		}
		if _, err := a.TryAcquire(ctx, "job"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryAcquire of a held lock from the same Locker = %v, want ErrNotAcquired", err)
		}
		other, err := b.TryAcquire(ctx, "other-job")
		if err != nil {
			t.Fatalf("an unrelated name is blocked: %v", err)
		}
		release(t, other)

		release(t, first)
		if cause := context.Cause(first.Context()); !errors.Is(cause, lock.ErrReleased) {
			t.Fatalf("Context cause after Release = %v, want ErrReleased", cause)
		}
		if err := first.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("second Release = %v, want ErrNotHeld", err)
		}
		if err := first.Extend(ctx, time.Second); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Extend after Release = %v, want ErrNotHeld", err)
		}

		second, err := b.TryAcquire(ctx, "job")
		if err != nil {
			t.Fatalf("TryAcquire after Release: %v", err)
		}
		defer release(t, second)
		if second.Token() <= first.Token() {
			t.Fatalf("token %d after %d: not increasing", second.Token(), first.Token())
		}
	})
}

// lockPrefix returns the Prefix of lk's keys, read from a held lock.
func lockPrefix(t *testing.T, lk *lock.Locker) string {
	t.Helper()
	l, err := lk.TryAcquire(context.Background(), "probe")
	if err != nil {
		t.Fatal(err)
	}
	release(t, l)
	return strings.TrimSuffix(l.Key(), "{probe}")
}

func TestExtend(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		lk := newLocker(t, srv.Client(t), lock.Options{Validity: time.Second})
		l, err := lk.TryAcquire(ctx, "extend")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Extend(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
		if ttl := pttl(t, raw, l.Key()); ttl <= 59*time.Second {
			t.Fatalf("PTTL after Extend(1m) = %v", ttl)
		}
		if err := l.Extend(ctx, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if ttl := pttl(t, raw, l.Key()); ttl <= 59*time.Second {
			t.Fatalf("Extend(10ms) shortened the lease to %v", ttl)
		}
		if err := l.Extend(ctx, time.Microsecond); err == nil {
			t.Fatal("Extend(1µs) succeeded")
		}

		if err := raw.Do(ctx, raw.B().Del().Key(l.Key()).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if err := l.Extend(ctx, time.Second); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Extend of a deleted lock = %v, want ErrNotHeld", err)
		}
		if cause := context.Cause(l.Context()); !errors.Is(cause, lock.ErrNotHeld) {
			t.Fatalf("Context cause = %v, want ErrNotHeld", cause)
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Release of a lost lock = %v, want ErrNotHeld", err)
		}
	})
}

// TestWatchdogExtendsEveryHeldLock holds three locks on one Locker, whose
// watchdogs share a timer, and releases the middle one at once: the other
// two are extended past their validity (their keys would have expired
// otherwise) and the released one is never extended after its release.
func TestWatchdogExtendsEveryHeldLock(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		const validity, interval = 600 * time.Millisecond, 100 * time.Millisecond
		obs := &recordingObserver{}
		lk := newLocker(t, srv.Client(t), lock.Options{Validity: validity, ExtendInterval: interval, Observer: obs})
		held := map[string]*lock.Lock{}
		for _, name := range []string{"a", "b", "c"} {
			l, err := lk.TryAcquire(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			held[name] = l
		}
		if err := held["b"].Release(ctx); err != nil {
			t.Fatal(err)
		}
		var events []string
		// 8 extensions each: the locks outlive their validity.
		redistest.Eventually(t, 10*time.Second, func() error {
			events = append(events, obs.take()...)
			for _, name := range []string{"a", "c"} {
				if n := countEvents(events, "extended "+name+" err=<nil>"); n < 8 {
					return fmt.Errorf("%s extended %d times", name, n)
				}
			}
			return nil
		})
		for _, name := range []string{"a", "c"} {
			l := held[name]
			if err := context.Cause(l.Context()); err != nil {
				t.Fatalf("%s lost: %v", name, err)
			}
			if ttl, err := raw.Do(ctx, raw.B().Pttl().Key(l.Key()).Build()).AsInt64(); err != nil || ttl <= 0 {
				t.Fatalf("PTTL %s = %d, %v; want the key held", name, ttl, err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		released := slices.Index(events, "released b err=<nil>")
		if released < 0 {
			t.Fatalf("no release of b among %q", events)
		}
		if n := countEvents(events[released:], "extended b err=<nil>"); n != 0 {
			t.Fatalf("b extended %d times after its release", n)
		}
	})
}

func countEvents(events []string, event string) (n int) {
	for _, e := range events {
		if e == event {
			n++
		}
	}
	return n
}

// TestLostLockCancelsContext deletes the key behind the holder's back: the
// watchdog's next extension finds it gone and cancels Context.
func TestLostLockCancelsContext(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		const interval = 200 * time.Millisecond
		lk := newLocker(t, srv.Client(t), lock.Options{Validity: time.Second, ExtendInterval: interval})
		l, err := lk.TryAcquire(ctx, "lost")
		if err != nil {
			t.Fatal(err)
		}
		// Let the watchdog extend a few times first: a live lock stays held.
		select {
		case <-l.Context().Done():
			t.Fatalf("lock lost while held: %v", context.Cause(l.Context()))
		case <-time.After(3 * interval):
		}
		if err := raw.Do(ctx, raw.B().Del().Key(l.Key()).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		deleted := time.Now()
		select {
		case <-l.Context().Done():
		case <-time.After(interval + 300*time.Millisecond):
			t.Fatalf("Context not cancelled %v after the key was deleted", time.Since(deleted))
		}
		t.Logf("loss noticed %v after the delete (extend interval %v)", time.Since(deleted), interval)
		if cause := context.Cause(l.Context()); !errors.Is(cause, lock.ErrNotHeld) {
			t.Fatalf("cause = %v, want ErrNotHeld", cause)
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Release = %v, want ErrNotHeld", err)
		}
	})
}

// TestLeaseLapsesWhenRedisIsUnreachable freezes a private server: the holder
// cannot extend, and cancels Context by the time its lease surely ended,
// without waiting for an answer.
func TestLeaseLapsesWhenRedisIsUnreachable(t *testing.T) {
	srv := redistest.NewStandalone(t)
	ctx := context.Background()
	const validity = 600 * time.Millisecond
	lk := newLocker(t, srv.Client(t), lock.Options{Validity: validity})
	l, err := lk.TryAcquire(ctx, "paused")
	if err != nil {
		t.Fatal(err)
	}
	acquired := time.Now()
	// Frozen until the test thaws it, however slowly it runs: a timed
	// CLIENT PAUSE that ran out before the lease did would let the watchdog
	// extend it.
	node := srv.Masters()[0]
	node.Freeze(t)
	select {
	case <-l.Context().Done():
	case <-time.After(validity + 500*time.Millisecond):
		t.Fatalf("Context still live %v after acquire, lease %v", time.Since(acquired), validity)
	}
	if elapsed := time.Since(acquired); elapsed > validity+200*time.Millisecond {
		t.Errorf("Context cancelled %v after acquire; lease %v", elapsed, validity)
	}
	if cause := context.Cause(l.Context()); !errors.Is(cause, lock.ErrNotHeld) {
		t.Fatalf("cause = %v, want ErrNotHeld", cause)
	}
	node.Thaw()
	if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release = %v, want ErrNotHeld", err)
	}
}

// TestWaitersWakeOnRelease uses a recheck interval and lease far longer
// than the test, so only the invalidation of the lock key can wake the
// waiters; it also checks that one waiter's cancelled context ends only its
// own wait.
func TestWaitersWakeOnRelease(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		holderSide, waiterSide := twoLockers(t, srv, lock.Options{Validity: time.Minute, RecheckInterval: time.Minute})

		baseline := trackedKeys(t, srv)
		held, err := holderSide.TryAcquire(ctx, "handoff")
		if err != nil {
			t.Fatal(err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		results := make(chan error, 2)
		got := make(chan *lock.Lock, 1)
		go func() {
			_, err := waiterSide.Acquire(cancelled, "handoff")
			results <- err
		}()
		go func() {
			l, err := waiterSide.Acquire(ctx, "handoff")
			got <- l
			results <- err
		}()
		waitTracked(t, srv, baseline)
		cancel()
		if err := <-results; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter returned %v, want context.Canceled", err)
		}
		select {
		case l := <-got:
			t.Fatalf("second waiter acquired %v while the lock was held", l)
		default:
		}
		released := time.Now()
		release(t, held)
		l := <-got
		if err := <-results; err != nil {
			t.Fatal(err)
		}
		t.Logf("handoff to another client took %v", time.Since(released))
		if l.Token() <= held.Token() {
			t.Fatalf("token %d after %d", l.Token(), held.Token())
		}
		release(t, l)
	})
}

// trackedKeys returns the number of keys in the servers' client-tracking
// tables: a waiter's read through the client-side cache adds its lock key.
func trackedKeys(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	raw := srv.Raw(t)
	total := 0
	for _, node := range raw.Nodes() {
		info, err := node.Do(context.Background(), node.B().Info().Section("stats").Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "tracking_total_keys:"); ok {
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Fatal(err)
				}
				total += n
			}
		}
	}
	return total
}

// waitTracked waits until more than baseline keys are tracked: the waiters
// have read the lock key with tracking, which arms their invalidation.
func waitTracked(t *testing.T, srv *redistest.Server, baseline int) {
	t.Helper()
	redistest.Eventually(t, 5*time.Second, func() error {
		if n := trackedKeys(t, srv); n <= baseline {
			return fmt.Errorf("%d keys tracked, want more than %d: the waiters did not read the lock key with tracking", n, baseline)
		}
		return nil
	})
}

// TestWaiterTakesOverExpiredLock: a holder that vanished (a plain SET with a
// short PX, as a crashed process leaves behind) is taken over when the key
// expires, long before RecheckInterval.
func TestWaiterTakesOverExpiredLock(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		lk := newLocker(t, srv.Client(t), lock.Options{RecheckInterval: time.Minute})
		key := lockPrefix(t, lk) + "{orphan}"
		if err := raw.Do(ctx, raw.B().Set().Key(key).Value("dead-owner").Px(300*time.Millisecond).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		l, err := lk.Acquire(wctx, "orphan")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("took over %v after a 300ms orphan", time.Since(start))
		release(t, l)
	})
}

func TestFencingTokenSurvivesExpiry(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		lk := newLocker(t, srv.Client(t), lock.Options{})
		var last int64
		for i := range 3 {
			l, err := lk.TryAcquire(ctx, "fenced")
			if err != nil {
				t.Fatal(err)
			}
			if l.Token() <= last {
				t.Fatalf("round %d: token %d after %d", i, l.Token(), last)
			}
			last = l.Token()
			// Lose the lock as an expiry would: delete the key behind its back.
			if err := raw.Do(ctx, raw.B().Del().Key(l.Key()).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
				t.Fatalf("Release = %v, want ErrNotHeld", err)
			}
		}
		l, err := lk.TryAcquire(ctx, "fenced")
		if err != nil {
			t.Fatal(err)
		}
		defer release(t, l)
		if ttl := pttl(t, raw, lock.FenceKey(l)); ttl != -time.Millisecond {
			t.Fatalf("fence counter PTTL = %v; want -1ms (no expiry)", ttl)
		}
	})
}

func TestFenceTTL(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		lk := newLocker(t, srv.Client(t), lock.Options{FenceTTL: time.Hour})
		l, err := lk.TryAcquire(ctx, "short-lived")
		if err != nil {
			t.Fatal(err)
		}
		defer release(t, l)
		if ttl := pttl(t, raw, lock.FenceKey(l)); ttl <= 59*time.Minute {
			t.Fatalf("fence counter PTTL = %v; want about 1h", ttl)
		}
	})
}

// TestClose: closing the Locker, or its client, wakes a blocked Acquire
// with ErrClosed and refuses later calls; a lock held across the Locker's
// Close is still extended and released, one held across the client's Close
// no longer is.
func TestClose(t *testing.T) {
	for _, tc := range []struct {
		name        string
		closeClient bool
	}{{"locker", false}, {"client", true}} {
		closeClient := tc.closeClient
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Standalone(t)
			ctx := context.Background()
			opts := lock.Options{RecheckInterval: time.Minute, Prefix: redistest.Name(t)}
			client := srv.Client(t)
			lk, holderSide := newLocker(t, client, opts), newLocker(t, srv.Client(t), opts)
			baseline := trackedKeys(t, srv)
			held, err := holderSide.TryAcquire(ctx, "closing")
			if err != nil {
				t.Fatal(err)
			}
			ownHeld, err := lk.TryAcquire(ctx, "held-across-close")
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := lk.Acquire(ctx, "closing"); !errors.Is(err, lock.ErrClosed) {
					t.Errorf("Acquire across Close = %v, want ErrClosed", err)
				}
			}()
			waitTracked(t, srv, baseline)
			if closeClient {
				client.Close()
			} else {
				lk.Close()
			}
			wg.Wait()
			if _, err := lk.TryAcquire(ctx, "x"); !errors.Is(err, lock.ErrClosed) {
				t.Fatalf("TryAcquire after Close = %v, want ErrClosed", err)
			}
			err = ownHeld.Extend(ctx, time.Minute)
			if closeClient && !errors.Is(err, lock.ErrClosed) || !closeClient && err != nil {
				t.Fatalf("Extend after Close: %v", err)
			}
			if closeClient {
				_ = ownHeld.Release(ctx) // stops its watchdog
			} else {
				release(t, ownHeld)
			}
			release(t, held)
		})
	}
}
