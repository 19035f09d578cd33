package lock

import (
	"context"
	"strings"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
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

// TestScriptsUnknownToRedis: after SCRIPT FLUSH (or a restart), the lease
// scripts answer NOSCRIPT and are sent again with their text.
func TestScriptsUnknownToRedis(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		lk := newTestLocker(t, srv)
		ctx := context.Background()
		for _, node := range srv.Masters() {
			if _, err := node.Do("SCRIPT", "FLUSH"); err != nil {
				t.Fatal(err)
			}
		}
		l, err := lk.TryAcquire(ctx, "flushed")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAcquireAfterSlotMove moves a lock's slot to another master behind
// the client's back: the old master answers MOVED, which rueidis follows,
// and the key ends up on the new master.
func TestAcquireAfterSlotMove(t *testing.T) {
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
