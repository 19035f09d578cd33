package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// redisDeadline bounds each Redis call of a Cache by Options.RedisTimeout.
// It matters because rueidis retries a read on a dead connection until the
// context ends: without a deadline a call would never return, and the
// breaker would never learn that Redis is down.
//
// A timer per call (context.WithTimeout) would cost more than a client-side
// cache hit, so contexts that can never be cancelled (context.Background and
// the like, the common case) share one deadline per half timeout: a call
// ends within RedisTimeout and gets at least half of it. Cancellable contexts
// without an earlier deadline get a timer of their own.
type redisDeadline struct {
	timeout int64 // nanoseconds

	mu      sync.Mutex // serialises renewals
	current atomic.Pointer[sharedDeadline]
}

type sharedDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
	end    int64 // unix nanoseconds
}

// valuesOf is a context with the values of one context and the deadline and
// cancellation of another.
type valuesOf struct {
	context.Context // deadline, Done, Err
	values          context.Context
}

func (v *valuesOf) Value(key any) any { return v.values.Value(key) }

// bound returns ctx limited to the Redis timeout, and the function to call
// when the call is done. A nil *redisDeadline does not bound.
func (d *redisDeadline) bound(ctx context.Context, now int64) (context.Context, context.CancelFunc) {
	if d == nil {
		return ctx, func() {}
	}
	if dl, ok := ctx.Deadline(); ok && dl.UnixNano() <= now+d.timeout {
		return ctx, func() {}
	}
	if ctx.Done() != nil {
		return context.WithTimeout(ctx, time.Duration(d.timeout))
	}
	s := d.current.Load()
	if s == nil || s.end-now < d.timeout/2 {
		s = d.renew(now)
	}
	if ctx == context.Background() || ctx == context.TODO() {
		return s.ctx, func() {} // no values to carry
	}
	return &valuesOf{Context: s.ctx, values: ctx}, func() {}
}

// boundBeforeLoad is bound for a read that a load follows when it fails
// (Fetch, FetchMany): if ctx has a deadline, the read gets at most half of
// the time left, so that a stalled Redis leaves the loader the other half.
// The read's own deadline then ends it, which the breaker counts.
func (d *redisDeadline) boundBeforeLoad(ctx context.Context, now int64) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		if half := time.Until(dl) / 2; d == nil || int64(half) < d.timeout {
			return context.WithTimeout(ctx, half)
		}
	}
	return d.bound(ctx, now)
}

func (d *redisDeadline) renew(now int64) *sharedDeadline {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.current.Load(); s != nil && s.end-now >= d.timeout/2 {
		return s
	}
	end := now + d.timeout
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, end))
	s := &sharedDeadline{ctx: ctx, cancel: cancel, end: end}
	// The previous deadline is not cancelled: calls may still use it, and
	// its timer releases itself when it passes.
	d.current.Store(s)
	return s
}

// close releases the current deadline's timer, ending calls still in flight.
func (d *redisDeadline) close() {
	if d == nil {
		return
	}
	if s := d.current.Swap(nil); s != nil {
		s.cancel()
	}
}
