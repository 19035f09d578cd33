package lock

import (
	"context"
	"sync"
	"time"
)

// watchdog extends a held lock's lease every ExtendInterval. It is a timer
// whose function runs each extension, not a goroutine per lock: a lock held
// for less than ExtendInterval, the common case, costs one timer.
type watchdog struct {
	mu      sync.Mutex // held while an extension runs, so that stop waits for it
	timer   *time.Timer
	stopped bool
}

func (l *Lock) startWatchdog() {
	l.watchdog.mu.Lock() // the timer must be set before its function reads it
	defer l.watchdog.mu.Unlock()
	l.watchdog.timer = time.AfterFunc(l.locker.opts.ExtendInterval, l.watch)
}

// watch extends the lease and sets the next extension. After a failed
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
	l.watchdog.timer.Reset(next)
}

// stopWatchdog cancels the next extension and waits for a running one.
func (l *Lock) stopWatchdog() {
	l.watchdog.mu.Lock()
	defer l.watchdog.mu.Unlock()
	l.watchdog.stopped = true
	l.watchdog.timer.Stop()
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
