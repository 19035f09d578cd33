package cache

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/redis/rueidis"
)

// breaker stops a Cache from waiting on a Redis that is down. After threshold
// consecutive failures it opens for cooldown: calls are refused at once.
// When the cooldown has passed, the first call to ask becomes the probe and
// the breaker stays open for the others for another cooldown; the probe's
// success closes it, its failure leaves it open. A probe that never reports
// back only costs one cooldown. A nil *breaker always allows.
type breaker struct {
	threshold int64
	cooldown  int64 // nanoseconds
	onOpen    func()

	failures  atomic.Int64
	openUntil atomic.Int64 // 0 while closed
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

// record notes the outcome of a call that allow let through. Replies from
// the server (including errors such as WRONGTYPE, and nil) show that Redis is
// up; the end of the caller's own context says nothing about Redis (while
// the end of the Cache's RedisTimeout, a context of its own, does).
func (b *breaker) record(ctx context.Context, err error, now int64) {
	if b == nil {
		return
	}
	if _, reply := rueidis.IsRedisErr(err); err == nil || reply || rueidis.IsRedisNil(err) {
		if b.failures.Load() != 0 {
			b.failures.Store(0)
		}
		if b.openUntil.Load() != 0 {
			b.openUntil.Store(0)
		}
		return
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return
	}
	if b.failures.Add(1) >= b.threshold && b.openUntil.CompareAndSwap(0, now+b.cooldown) {
		b.onOpen()
	}
}
