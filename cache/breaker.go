package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
)

// breakerMinSpan is how long failures must keep coming, with no success in
// between, before they open the breaker. A killed connection fails every
// call in flight on it at once, and rueidis has a new connection a few
// milliseconds later: that burst must not refuse Redis for a whole cooldown.
// A Redis that is down keeps failing past the span.
const breakerMinSpan = 100 * time.Millisecond

// breaker stops a Cache from waiting on a Redis that is down. It opens for
// cooldown after threshold failures without a success in between, the first
// and the last at least breakerMinSpan apart (a threshold of 1 opens on any
// failure), or at once on a failure that says Redis refuses connections
// (typecache.Unreachable): calls are then refused at once.
// When the cooldown has passed, the first call to ask becomes the probe and
// the breaker stays open for the others for another cooldown; the probe's
// success closes it, its failure leaves it open for a cooldown from the
// failure. A probe that never reports back only costs one cooldown. A nil
// *breaker always allows.
//
// Successes, the common case, touch only atomics; failures take a mutex.
type breaker struct {
	threshold int64
	cooldown  int64 // nanoseconds
	onOpen    func()

	failing   atomic.Bool  // failures > 0
	openUntil atomic.Int64 // 0 while closed

	mu           sync.Mutex
	failures     int64 // since the last success
	firstFailure int64 // when the first of them was recorded
}

// redisAnswered reports whether err, the outcome of a call, is nil or wraps
// a reply of the server (nil, WRONGTYPE…): Redis is up. Other errors say
// that it could not be reached in time.
func redisAnswered(err error) bool {
	if err == nil || rueidis.IsRedisNil(err) { // first: the variable below escapes
		return true
	}
	var reply *rueidis.RedisError
	return errors.As(err, &reply)
}

func newBreaker(threshold int, cooldown int64, onOpen func()) *breaker {
	if threshold < 0 {
		return nil
	}
	return &breaker{threshold: int64(threshold), cooldown: cooldown, onOpen: onOpen}
}

// allow reports whether a call may go to Redis at now.
func (b *breaker) allow(now int64) bool {
	if b == nil {
		return true
	}
	until := b.openUntil.Load()
	return until == 0 || (now >= until && b.openUntil.CompareAndSwap(until, now+b.cooldown))
}

// isOpen reports whether the breaker refuses calls at now, without claiming
// the probe.
func (b *breaker) isOpen(now int64) bool {
	if b == nil {
		return false
	}
	until := b.openUntil.Load()
	return until != 0 && now < until
}

// record notes, at now, the outcome of a call that allow let through.
// Replies from the server (including errors such as WRONGTYPE, and nil) show
// that Redis is up; the end of the caller's own context says nothing about
// Redis (while the end of the Cache's RedisTimeout, a context of its own,
// does).
func (b *breaker) record(ctx context.Context, err error, now int64) {
	if b == nil {
		return
	}
	if redisAnswered(err) {
		if b.failing.Load() {
			b.mu.Lock()
			b.failures = 0
			b.failing.Store(false)
			b.mu.Unlock()
		}
		if b.openUntil.Load() != 0 {
			b.openUntil.Store(0)
		}
		return
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return
	}
	if b.openUntil.Load() != 0 {
		// A failed probe: the cooldown runs from its end, not from its
		// start, so that a probe that waited for its deadline does not use
		// the cooldown up.
		b.openUntil.Store(now + b.cooldown)
		return
	}
	b.mu.Lock()
	if b.failures == 0 {
		b.firstFailure = now
		b.failing.Store(true)
	}
	b.failures++
	// A server that refuses connections is down now: no count or span
	// needs to prove it.
	trip := typecache.Unreachable(err) ||
		b.failures >= b.threshold && (b.threshold == 1 || now-b.firstFailure >= int64(breakerMinSpan))
	b.mu.Unlock()
	if !trip {
		return
	}
	if b.openUntil.CompareAndSwap(0, now+b.cooldown) {
		b.onOpen()
	}
}
