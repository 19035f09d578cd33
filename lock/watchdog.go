package lock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// watchdog is a held lock's part in its Locker's watchdogs.
type watchdog struct {
	mu      sync.Mutex // held while an extension runs, so that stop waits for it
	stopped bool

	// Guarded by the Locker's watchdogs.mu.
	next time.Time // when the next extension is due
	slot int       // 1 + the lock's index in the queue; 0 when not queued
}

// watchdogs extends the leases of a Locker's held locks, each every
// ExtendInterval. One timer serves them all. It is set for the earliest
// extension due and left alone when a lock is released: a lock held for
// less than ExtendInterval, the common case, then costs no timer operation
// and no allocation of its own (a timer per lock costs both, and setting a
// timer may wake a thread to watch it).
type watchdogs struct {
	mu    sync.Mutex
	timer *time.Timer // made by the first lock
	armed time.Time   // when timer fires; zero when it is not set
	queue leaseQueue
}

// schedule queues l's next extension at next, setting the timer earlier if
// needed.
func (w *watchdogs) schedule(l *Lock, next time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l.watchdog.next = next
	heap.Push(&w.queue, l)
	if w.armed.IsZero() || next.Before(w.armed) {
		w.arm(next)
	}
}

// remove takes l out of the queue. The timer stays set: if it fires with
// nothing due, fire only sets it again for the next extension due.
func (w *watchdogs) remove(l *Lock) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if l.watchdog.slot != 0 {
		heap.Remove(&w.queue, l.watchdog.slot-1)
	}
}

func (w *watchdogs) arm(at time.Time) {
	w.armed = at
	if w.timer == nil {
		w.timer = time.AfterFunc(time.Until(at), w.fire)
		return
	}
	w.timer.Reset(time.Until(at))
}

// fire runs the extensions that are due, each on a goroutine of its own
// (the last on the timer's), and sets the timer for the next one.
func (w *watchdogs) fire() {
	w.mu.Lock()
	now := time.Now()
	var due []*Lock
	for len(w.queue) > 0 && !w.queue[0].watchdog.next.After(now) {
		due = append(due, heap.Pop(&w.queue).(*Lock))
	}
	w.armed = time.Time{}
	if len(w.queue) > 0 {
		w.arm(w.queue[0].watchdog.next)
	}
	w.mu.Unlock()
	for i, l := range due {
		if i == len(due)-1 {
			l.watch()
		} else {
			go l.watch()
		}
	}
}

// leaseQueue is a heap of held locks by their next extension.
type leaseQueue []*Lock

func (q leaseQueue) Len() int           { return len(q) }
func (q leaseQueue) Less(i, j int) bool { return q[i].watchdog.next.Before(q[j].watchdog.next) }
func (q leaseQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].watchdog.slot, q[j].watchdog.slot = i+1, j+1
}

func (q *leaseQueue) Push(x any) {
	l := x.(*Lock)
	l.watchdog.slot = len(*q) + 1
	*q = append(*q, l)
}

func (q *leaseQueue) Pop() any {
	old := *q
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	l.watchdog.slot = 0
	return l
}

func (l *Lock) startWatchdog() {
	l.locker.dogs.schedule(l, time.Now().Add(l.locker.opts.ExtendInterval))
}

// watch extends the lease and queues the next extension. After a failed
// extension it retries sooner, and it gives the lock up (ending Context)
// once the last successful extension's lease has run out, whatever Redis
// says later.
func (l *Lock) watch() {
	l.watchdog.mu.Lock()
	defer l.watchdog.mu.Unlock()
	if l.watchdog.stopped || l.heldErr() != nil {
		return
	}
	opts := l.locker.opts
	next := opts.ExtendInterval
	if err := l.extend(context.Background(), opts.Validity); err != nil {
		if l.heldErr() != nil {
			return
		}
		next = min(opts.ExtendInterval/4, time.Until(l.leaseEndTime()))
	}
	l.locker.dogs.schedule(l, time.Now().Add(next))
}

// stopWatchdog cancels the next extension and waits for a running one.
func (l *Lock) stopWatchdog() {
	l.watchdog.mu.Lock()
	defer l.watchdog.mu.Unlock()
	l.watchdog.stopped = true
	l.locker.dogs.remove(l)
}

// safeLease is how long a lease of ttl surely lasts as measured here: the
// server's clock may run slightly faster than ours, so allow 1% + 2 ms of
// drift, as Redlock does.
func safeLease(ttl time.Duration) time.Duration { return ttl - ttl/100 - 2*time.Millisecond }

func (l *Lock) leaseEndTime() time.Time { return l.start.Add(time.Duration(l.leaseEnd.Load())) }

// pushLeaseEnd moves the lease end later, never earlier: concurrent Extend
// and watchdog calls may finish out of order.
func (l *Lock) pushLeaseEnd(sinceStart time.Duration) {
	for {
		old := l.leaseEnd.Load()
		if int64(sinceStart) <= old || l.leaseEnd.CompareAndSwap(old, int64(sinceStart)) {
			return
		}
	}
}
