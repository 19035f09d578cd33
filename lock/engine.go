package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// acquireScript takes the lock if free and returns the next fencing token,
// or 0 if the lock is held. KEYS: lock, fence. ARGV: owner, lease in ms,
// fence TTL in ms (0: never expires). The counter is incremented only on
// success, so tokens are consecutive per name.
var acquireScript = rueidis.NewLuaScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return 0
end
local token = redis.call('INCR', KEYS[2])
if ARGV[3] ~= '0' then
	redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return token`)

func (lk *Locker) tryAcquire(ctx context.Context, name string, keys lockKeys, turn *turnQueue) (*Lock, error) {
	owner := newOwner()
	sent := time.Now()
	token, err := acquireScript.Exec(ctx, lk.redis,
		[]string{keys.lock, keys.fence},
		[]string{owner, millis(lk.opts.Validity), millis(lk.opts.FenceTTL)}).AsInt64()
	if err != nil {
		return nil, fmt.Errorf("lock: acquire %q: %w", keys.lock, err)
	}
	if token == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNotAcquired, keys.lock)
	}
	lctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	l := &Lock{
		locker: lk, name: name, keys: keys, owner: owner, token: token,
		ctx: lctx, cancel: cancel, turn: turn, start: sent,
		stopWatchdog: make(chan struct{}), watchdogEnded: make(chan struct{}),
	}
	l.leaseEnd.Store(int64(safeLease(lk.opts.Validity)))
	go l.watchdog()
	return l, nil
}

// newOwner returns 16 random bytes, hex-encoded: the value only the holder
// knows, which extend and release compare before touching the key.
func newOwner() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return hex.EncodeToString(b[:])
}

func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// safeLease is how long a lease of ttl surely lasts as measured here: the
// server's clock may run slightly faster than ours, so allow 1% + 2 ms of
// drift, as Redlock does.
func safeLease(ttl time.Duration) time.Duration { return ttl - ttl/100 - 2*time.Millisecond }

// watchdog extends the lease every ExtendInterval until Release stops it or
// the lock is lost. After a failed extension it retries sooner, and it gives
// the lock up (cancelling Context) once the last successful extension's lease
// has run out, whatever Redis says later.
func (l *Lock) watchdog() {
	defer close(l.watchdogEnded)
	opts := l.locker.opts
	timer := time.NewTimer(opts.ExtendInterval)
	defer timer.Stop()
	for {
		select {
		case <-l.stopWatchdog:
			return
		case <-l.ctx.Done():
			return
		case <-timer.C:
		}
		next := opts.ExtendInterval
		if err := l.extend(context.Background(), opts.Validity); err != nil {
			if l.ctx.Err() != nil {
				return
			}
			next = min(opts.ExtendInterval/4, time.Until(l.leaseEndTime()))
		}
		timer.Reset(next)
	}
}

// extendScript makes the lease last at least ARGV[2] ms if ARGV[1] still
// owns it, and refreshes the fence counter's expiry (ARGV[3] ms, 0: none).
// It returns 1 if the lock is held, 0 if not. KEYS: lock, fence.
var extendScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if ARGV[3] ~= '0' then
	redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1`)

func (l *Lock) extend(ctx context.Context, ttl time.Duration) error {
	end := l.leaseEndTime()
	if !time.Now().Before(end) {
		return l.lose("the lease lapsed before it could be extended")
	}
	// An extension that answers after the lease ended proves nothing.
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	sent := time.Now()
	held, err := extendScript.Exec(ctx, l.locker.redis,
		[]string{l.keys.lock, l.keys.fence},
		[]string{l.owner, millis(ttl), millis(l.locker.opts.FenceTTL)}).AsInt64()
	switch {
	case err != nil && !time.Now().Before(end):
		return l.lose("the lease lapsed before it could be extended")
	case err != nil:
		return fmt.Errorf("lock: extend %q: %w", l.keys.lock, err)
	case held == 0:
		return l.lose("the key was deleted, expired or taken")
	}
	l.pushLeaseEnd(sent.Sub(l.start) + safeLease(ttl))
	return nil
}

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

// lose cancels Context with an ErrNotHeld cause and returns that cause (or
// the earlier cause, if the Context was already cancelled).
func (l *Lock) lose(reason string) error {
	l.finish(fmt.Errorf("%w: %q: %s", ErrNotHeld, l.keys.lock, reason))
	return l.heldErr()
}

// stop ends the watchdog and reports ErrNotHeld if the lock was already lost
// or released.
func (l *Lock) stop() error {
	l.stopOnce.Do(func() { close(l.stopWatchdog) })
	<-l.watchdogEnded
	return l.heldErr()
}

// releaseScript deletes the lock key if ARGV[1] still owns it and returns 1,
// else 0. KEYS: lock.
var releaseScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	return 1
end
return 0`)

// released finishes a release whose script answered (held, err): held is
// false if the lock had been lost. It cancels Context either way and wakes this Locker's
// own waiters without waiting for Redis's invalidation.
func (l *Lock) released(held bool, err error) error {
	switch {
	case err != nil:
		l.finish(ErrReleased)
		return fmt.Errorf("lock: release %q: %w", l.keys.lock, err)
	case !held:
		return l.lose("the lease lapsed or the key was taken before release")
	}
	l.finish(ErrReleased)
	l.locker.wakes.Invalidate(l.keys.lock)
	return nil
}

// finish cancels Context with cause (the first cause wins) and passes this
// process's turn for the name to the next local goroutine.
func (l *Lock) finish(cause error) {
	l.cancel(cause)
	l.finishOnce.Do(func() { l.locker.turns.leave(l.keys.lock, l.turn) })
}

// observe reads the lock key through the client-side cache, which also asks
// Redis to send an invalidation when the key next changes. It reports
// whether the lock is held and how long to wait for news at most: the
// cached entry's remaining TTL (the key's, capped by RecheckInterval).
//
// A free answer served from the client-side cache may be stale, with its
// invalidation still on the way; Acquire, which has just seen the lock held,
// passes distrustCachedFree to wait for that invalidation instead of
// spinning.
func (lk *Locker) observe(ctx context.Context, key string, distrustCachedFree bool) (held bool, wait time.Duration, err error) {
	res := lk.redis.DoCache(ctx, lk.redis.B().Get().Key(key).Cache().Pin(), lk.opts.RecheckInterval) // pinned: rueidis recycles a retried read that its broken connection may still be writing (a data race under CLIENT KILL)
	wait = lk.opts.RecheckInterval
	if ms := res.CachePTTL(); ms >= 0 && time.Duration(ms)*time.Millisecond < wait {
		wait = time.Duration(ms+1) * time.Millisecond
	}
	switch err := res.Error(); {
	case rueidis.IsRedisNil(err):
		return distrustCachedFree && res.IsCacheHit(), wait, nil
	case err != nil:
		return false, 0, fmt.Errorf("lock: read %q: %w", key, err)
	}
	return true, wait, nil
}

// await blocks until wake fires, d passes, ctx ends or the Locker closes.
func (lk *Locker) await(ctx context.Context, key string, wake <-chan struct{}, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-wake:
	case <-timer.C:
	case <-ctx.Done():
		return fmt.Errorf("lock: wait for %q: %w", key, context.Cause(ctx))
	case <-lk.closed:
		return ErrClosed
	}
	return nil
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
// while in use, so per-key names do not accumulate.
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

func newLocalTurns() *localTurns { return &localTurns{queues: make(map[string]*turnQueue)} }

func (t *localTurns) join(key string) *turnQueue {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.queues[key]
	if q == nil {
		q = &turnQueue{turn: make(chan struct{}, 1)}
		t.queues[key] = q
	}
	q.users++
	return q
}

func (t *localTurns) drop(key string, q *turnQueue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if q.users--; q.users == 0 {
		delete(t.queues, key)
	}
}

// wait blocks until the caller has key's turn, ctx ends or closed closes.
func (t *localTurns) wait(ctx context.Context, key string, closed <-chan struct{}) (*turnQueue, error) {
	q := t.join(key)
	select {
	case q.turn <- struct{}{}:
		return q, nil
	case <-ctx.Done():
		t.drop(key, q)
		return nil, fmt.Errorf("lock: wait for %q: %w", key, context.Cause(ctx))
	case <-closed:
		t.drop(key, q)
		return nil, ErrClosed
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
