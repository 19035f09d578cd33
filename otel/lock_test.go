package otel_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
)

// lockTally sums the durations a Locker reported, and holds the name
// lock.New gave it (on the test's goroutine).
type lockTally struct {
	lock.NoopObserver
	name         string
	mu           sync.Mutex
	waited, held float64
}

func (l *lockTally) WithName(name string) lock.Observer {
	l.name = name
	return l
}

func (l *lockTally) OnAcquired(_ string, _ int64, waited time.Duration) { l.addWait(waited) }
func (l *lockTally) OnNotAcquired(_ string, waited time.Duration, _ error) {
	l.addWait(waited)
}

func (l *lockTally) addWait(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waited += d.Seconds()
}

func (l *lockTally) OnReleased(_ string, held time.Duration, _ error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held += held.Seconds()
}

// TestLockInstruments drives a Locker through acquisitions (free, held
// elsewhere, given up after a wait), an extension, a loss and a release,
// and checks every typecache.lock.* instrument point by point.
func TestLockInstruments(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		m, reader := newMetrics(t)
		name := redistest.Name(t)
		tally := &lockTally{}
		locker := func(obs lock.Observer) *lock.Locker {
			lk, err := lock.New(srv.Client(t), lock.Options{Prefix: name, Validity: time.Minute, RecheckInterval: time.Minute, Observer: obs})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(lk.Close)
			return lk
		}
		lk, other := locker(m.LockObserver(tally)), locker(nil)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}

		l, err := lk.TryAcquire(background, "job") // acquired
		must(err)
		if _, err := lk.TryAcquire(background, "job"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryAcquire of a held lock = %v", err) // not_acquired
		}
		must(l.Extend(background, time.Minute)) // extension: ok
		must(l.Release(background))             // release: ok

		l, err = lk.TryAcquire(background, "job") // acquired
		must(err)
		raw := srv.Raw(t)
		must(raw.Do(background, raw.B().Del().Key(l.Key()).Build()).Error())
		if err := l.Extend(background, time.Minute); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Extend of a deleted lock = %v", err) // loss
		}

		held, err := other.TryAcquire(background, "job")
		must(err)
		defer held.Release(background)
		const patience = 30 * time.Millisecond
		ctx, cancel := context.WithTimeout(background, patience)
		defer cancel()
		if _, err := lk.Acquire(ctx, "job"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire of a lock held elsewhere = %v", err) // gave_up
		}

		s := collect(t, reader)
		tally.mu.Lock()
		defer tally.mu.Unlock()
		if tally.name != name {
			t.Errorf("the observer passed on was named %q, want the Locker's prefix %q", tally.name, name)
		}
		n := attribute.String("typecache.lock.locker", name)
		result := func(r string) string { return set(n, attribute.String("typecache.lock.result", r)) }
		s.expectSums(t, map[string]map[string]int64{
			"typecache.lock.acquisitions": {result("acquired"): 2, result("not_acquired"): 1, result("gave_up"): 1},
			"typecache.lock.extensions":   {result("ok"): 1},
			"typecache.lock.losses":       {set(n): 1},
			"typecache.lock.releases":     {result("ok"): 1},
		})
		for _, tt := range []struct {
			name   string
			counts map[string]uint64
			sum    float64
		}{
			{"typecache.lock.wait.duration", map[string]uint64{result("acquired"): 2, result("not_acquired"): 1, result("gave_up"): 1}, tally.waited},
			{"typecache.lock.held.duration", map[string]uint64{result("ok"): 1}, tally.held},
		} {
			counts, sum := map[string]uint64{}, 0.0
			for attrs, p := range s.histogram(t, tt.name) {
				counts[attrs], sum = p.Count, sum+p.Sum
			}
			if diff := cmp.Diff(tt.counts, counts); diff != "" || math.Abs(sum-tt.sum) > 1e-9 {
				t.Errorf("%s: counts (-want +got):\n%s\nsum %vs, the Locker reported %vs", tt.name, diff, sum, tt.sum)
			}
		}
		if gaveUp := s.histogram(t, "typecache.lock.wait.duration")[result("gave_up")]; gaveUp.Sum < patience.Seconds()/2 {
			t.Errorf("the Acquire that gave up waited %vs, want about %v", gaveUp.Sum, patience)
		}
	})
}
