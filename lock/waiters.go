package lock

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/rediscmd"
)

// acquireInTurn is Acquire's Redis part, run by the goroutine whose turn it
// is in this process: it runs the acquire script until it succeeds, sleeping
// between tries until the lock key changes. waited reports whether the lock
// was found held at least once.
func (lk *Locker) acquireInTurn(ctx context.Context, name string, keys lockKeys, turn *turnQueue) (l *Lock, waited bool, err error) {
	var wake chan struct{} // registered at the first sight of the lock held
	defer func() {
		if wake != nil {
			lk.wakes.remove(keys.lock, wake)
		}
	}()
	for {
		l, err := lk.tryAcquire(ctx, name, keys, turn)
		if l != nil || err != nil {
			return l, wake != nil, err
		}
		if wake == nil {
			// Before the read that arms the invalidation: a change after
			// that read then always reaches this channel.
			wake = lk.wakes.add(keys.lock)
		}
		held, wait, err := lk.observe(ctx, name, keys.lock)
		if err == nil && held {
			err = lk.await(ctx, name, wake, wait)
		}
		if err != nil {
			return nil, true, err
		}
	}
}

// observe reads the lock key's remaining TTL from Redis as a tracked read,
// which also asks Redis to send an invalidation when the key next changes.
// It reports whether the lock is held and how long to wait for news at
// most: the key's remaining TTL, capped by RecheckInterval.
//
// The read is never served from a client-side cache, so "free" is true
// when read; and, unlike a cached read, it is not retried by rueidis, so a
// refused connection fails it at once.
func (lk *Locker) observe(ctx context.Context, name, key string) (held bool, wait time.Duration, err error) {
	cmd := lk.conn.Redis().B().Pttl().Key(key).Build()
	if !lk.conn.Tracks(key) {
		cmd = rediscmd.Retried(cmd) // sent alone, as a read rueidis may retry
	}
	reply, err := clientconn.Guard(ctx, lk.conn, key, errCircuitOpen, ErrClosed, func() (rueidis.RedisMessage, error) {
		return lk.conn.DoTracked(ctx, cmd)
	})
	if err != nil {
		return false, 0, fmt.Errorf("lock: read %q: %w", name, err)
	}
	ms, err := reply.AsInt64()
	if err != nil {
		return false, 0, fmt.Errorf("lock: read %q: %w", name, err)
	}
	wait = lk.opts.RecheckInterval
	switch {
	case ms == -2: // no key
		return false, 0, nil
	case ms >= 0 && time.Duration(ms)*time.Millisecond < wait:
		wait = time.Duration(ms+1) * time.Millisecond
	}
	return true, wait, nil
}

// await blocks until wake fires, d passes, ctx ends or the Locker closes.
func (lk *Locker) await(ctx context.Context, name string, wake <-chan struct{}, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-wake:
	case <-timer.C:
	case <-ctx.Done():
		return waitError(name, ctx)
	case <-lk.closed:
		return ErrClosed
	}
	return nil
}

func waitError(name string, ctx context.Context) error {
	return fmt.Errorf("lock: wait for %q: %w", name, context.Cause(ctx))
}

// wakeRouter routes invalidations of lock keys to the goroutines waiting on
// them. Its Subscriber methods run on rueidis's reader goroutines: they hold
// the mutex briefly and never block on a channel.
type wakeRouter struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

func newWakeRouter() *wakeRouter {
	return &wakeRouter{waiters: make(map[string]map[chan struct{}]struct{})}
}

// add registers a waiter on key. Its channel holds one pending wake-up, so
// a change that happens between a check and the wait is never missed.
func (r *wakeRouter) add(key string) chan struct{} {
	wake := make(chan struct{}, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.waiters[key]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		r.waiters[key] = set
	}
	set[wake] = struct{}{}
	return wake
}

func (r *wakeRouter) remove(key string, wake chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.waiters[key], wake)
	if len(r.waiters[key]) == 0 {
		delete(r.waiters, key)
	}
}

// Invalidate wakes every waiter on key.
func (r *wakeRouter) Invalidate(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for wake := range r.waiters[key] {
		notify(wake)
	}
}

// InvalidateAll wakes every waiter: invalidations may have been lost.
func (r *wakeRouter) InvalidateAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, set := range r.waiters {
		for wake := range set {
			notify(wake)
		}
	}
}

func notify(wake chan struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}

// localTurns queues a Locker's goroutines per lock name: one at a time tries
// for the lock in Redis and then holds it, and the others wait here, costing
// Redis nothing, instead of all retrying on every release. Queues exist only
// while in use, so per-key names do not accumulate; unused ones are pooled.
type localTurns struct {
	mu     sync.Mutex
	queues map[string]*turnQueue
}

// turnQueue holds a value in turn while a goroutine has the turn; users
// counts the goroutines holding or waiting for it.
type turnQueue struct {
	turn  chan struct{}
	users int
}

var turnQueuePool = sync.Pool{New: func() any { return &turnQueue{turn: make(chan struct{}, 1)} }}

func newLocalTurns() *localTurns { return &localTurns{queues: make(map[string]*turnQueue)} }

func (t *localTurns) join(key string) *turnQueue {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.queues[key]
	if q == nil {
		q = turnQueuePool.Get().(*turnQueue)
		t.queues[key] = q
	}
	q.users++
	return q
}

// drop undoes join; the last user returns the queue (its turn free) to the
// pool.
func (t *localTurns) drop(key string, q *turnQueue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if q.users--; q.users == 0 {
		delete(t.queues, key)
		turnQueuePool.Put(q)
	}
}

// wait blocks until the caller has key's turn, ctx ends or closed closes;
// queued reports whether another goroutine had the turn first.
func (t *localTurns) wait(ctx context.Context, name, key string, closed <-chan struct{}) (q *turnQueue, queued bool, err error) {
	q = t.join(key)
	select {
	case q.turn <- struct{}{}:
		return q, false, nil
	default:
	}
	select {
	case q.turn <- struct{}{}:
		return q, true, nil
	case <-ctx.Done():
		t.drop(key, q)
		return nil, true, waitError(name, ctx)
	case <-closed:
		t.drop(key, q)
		return nil, true, ErrClosed
	}
}

// try takes key's turn if no local goroutine has it.
func (t *localTurns) try(key string) (*turnQueue, bool) {
	q := t.join(key)
	select {
	case q.turn <- struct{}{}:
		return q, true
	default:
		t.drop(key, q)
		return nil, false
	}
}

// leave gives key's turn to the next waiting goroutine.
func (t *localTurns) leave(key string, q *turnQueue) {
	<-q.turn
	t.drop(key, q)
}
