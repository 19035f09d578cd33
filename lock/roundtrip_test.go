package lock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/redistest"
)

// newTestLocker returns a Locker on a client of srv, closed when t ends.
func newTestLocker(t *testing.T, srv *redistest.Server) *Locker {
	t.Helper()
	lk, err := New(srv.Client(t), Options{Prefix: redistest.Name(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lk.Close)
	return lk
}

// TestLoneRoundTrip runs the lease scripts on the unshared connection run
// takes when no other round trip of the Locker is in flight.
func TestLoneRoundTrip(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		lk := newTestLocker(t, srv)
		keys, err := lk.keysFor("lone")
		if err != nil {
			t.Fatal(err)
		}
		acquireArgs := []string{"owner", lk.args.validity, lk.args.fenceTTL}
		t.Run("script unknown to Redis", func(t *testing.T) {
			for _, node := range srv.Masters() {
				if _, err := node.Do("SCRIPT", "FLUSH"); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			if token, err := lk.runAlone(ctx, acquireScript, []string{keys.lock, keys.fence}, acquireArgs); err != nil || token < 1 {
				t.Fatalf("acquire script = %d, %v; want a token", token, err)
			}
			if n, err := lk.runAlone(ctx, releaseScript, []string{keys.lock}, []string{"owner"}); n != 1 || err != nil {
				t.Fatalf("release script = %d, %v; want 1", n, err)
			}
		})
		t.Run("deadline passed", func(t *testing.T) {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			if _, err := lk.runAlone(ctx, releaseScript, []string{keys.lock}, []string{"owner"}); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
		})
	})
}

// TestLoneRoundTripAfterSlotMove moves a lock's slot to another master
// behind the client's back: the unshared connection still reaches the old
// master, which answers MOVED, and run sends the script again by the
// pipelined path, which follows the redirection.
func TestLoneRoundTripAfterSlotMove(t *testing.T) {
	srv := redistest.NewCluster(t, redistest.ClusterOptions{})
	lk := newTestLocker(t, srv)
	ctx := context.Background()
	l, err := lk.Acquire(ctx, "moving")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var to *redistest.Node // a master that does not serve the lock's slot
	for _, node := range srv.Masters() {
		if _, err := node.Do("DEL", l.keys.fence); err != nil && strings.HasPrefix(err.Error(), "MOVED") {
			to = node
		}
	}
	srv.MoveSlot(t, l.keys.lock, to)

	if _, err := lk.runAlone(ctx, releaseScript, []string{l.keys.lock}, []string{"owner"}); !retryPipelined(err) {
		t.Fatalf("the old master answered %v, want a redirection", err)
	}
	l, err = lk.Acquire(ctx, "moving")
	if err != nil {
		t.Fatalf("Acquire after the slot moved: %v", err)
	}
	if ttl, err := to.Do("PTTL", l.keys.lock); err != nil || strings.HasPrefix(ttl, "-") {
		t.Fatalf("PTTL on the new master = %s, %v; want the lock key", ttl, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release after the slot moved: %v", err)
	}
}
