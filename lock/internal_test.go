package lock

import (
	"context"
	"testing"
)

func TestWakeRouter(t *testing.T) {
	r := newWakeRouter()
	a1, a2, b := r.add("a"), r.add("a"), r.add("b")
	woken := func(ch chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	r.Invalidate("a")
	r.Invalidate("a") // a second wake-up while one is pending must not block
	r.Invalidate("c")
	if !woken(a1) || !woken(a2) || woken(b) {
		t.Fatal("Invalidate(a) must wake exactly the waiters on a")
	}
	r.InvalidateAll()
	if !woken(a1) || !woken(a2) || !woken(b) {
		t.Fatal("InvalidateAll must wake every waiter")
	}
	r.remove("a", a1)
	r.remove("a", a2)
	r.remove("b", b)
	if len(r.waiters) != 0 {
		t.Fatalf("waiters left after remove: %v", r.waiters)
	}
}

func TestLocalTurns(t *testing.T) {
	turns := newLocalTurns()
	closed := make(chan struct{})
	first, ok := turns.try("k")
	if !ok {
		t.Fatal("try on a free name failed")
	}
	if _, ok := turns.try("k"); ok {
		t.Fatal("try succeeded while another goroutine has the turn")
	}
	if _, ok := turns.try("other"); !ok {
		t.Fatal("another name is blocked")
	} else {
		turns.leave("other", turns.queues["other"])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := turns.wait(ctx, "k", "k", closed); err == nil {
		t.Fatal("wait with a cancelled context succeeded")
	}
	next := make(chan *turnQueue)
	go func() {
		q, _, err := turns.wait(context.Background(), "k", "k", closed)
		if err != nil {
			t.Error(err)
		}
		next <- q
	}()
	turns.leave("k", first)
	turns.leave("k", <-next)
	if len(turns.queues) != 0 {
		t.Fatalf("queues left after everyone left: %v", turns.queues)
	}
}
