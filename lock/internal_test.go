package lock

import (
	"context"
	"testing"
	"time"
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

// TestWatchdogsTimer checks the shared watchdog timer: it is set for the
// earliest extension due, set earlier by an earlier one, and left alone by
// later ones and by removals.
func TestWatchdogsTimer(t *testing.T) {
	var w watchdogs
	defer func() { w.timer.Stop() }()
	now := time.Now()
	at := func(s int) time.Time { return now.Add(time.Duration(s) * time.Hour) }
	l1, l2, l3 := &Lock{name: "1"}, &Lock{name: "2"}, &Lock{name: "3"}
	steps := []struct {
		name      string
		do        func()
		armed     time.Time
		first     *Lock
		remaining int
	}{
		{"first lock sets the timer", func() { w.schedule(l1, at(10)) }, at(10), l1, 1},
		{"an earlier one sets it earlier", func() { w.schedule(l2, at(5)) }, at(5), l2, 2},
		{"a later one leaves it", func() { w.schedule(l3, at(20)) }, at(5), l2, 3},
		{"removing the first due leaves it", func() { w.remove(l2) }, at(5), l1, 2},
		{"removing the last queued leaves it", func() { w.remove(l3) }, at(5), l1, 1},
		{"removing twice is harmless", func() { w.remove(l3) }, at(5), l1, 1},
	}
	for _, step := range steps {
		step.do()
		if !w.armed.Equal(step.armed) || w.queue[0] != step.first || len(w.queue) != step.remaining {
			t.Fatalf("%s: armed %v, first %s, %d queued; want %v, %s, %d", step.name,
				w.armed.Sub(now), w.queue[0].name, len(w.queue), step.armed.Sub(now), step.first.name, step.remaining)
		}
	}
}
