package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sharedDeadline bounds calls by a timeout without a timer per call.
//
// It matters because rueidis retries a read on a dead connection until the
// context ends: without a deadline a Redis call would never return, and the
// breaker would never learn that Redis is down; and a load must end even
// when every caller gave up on it. A timer per call (context.WithTimeout)
// would cost more than a client-side cache hit, so contexts that can never
// be cancelled (context.Background and the like, the common case) and
// detached ones share one deadline, renewed when it would leave a call less
// than minLeft: a call ends within timeout and gets at least minLeft.
// Cancellable contexts without an earlier deadline get a timer of their
// own.
type sharedDeadline struct {
	timeout int64 // nanoseconds a renewed deadline leaves
	minLeft int64 // nanoseconds every call gets at least

	mu      sync.Mutex // serialises renewals
	current atomic.Pointer[deadlineCtx]
}

// newRedisDeadline bounds each Redis call by timeout: a call gets at least
// half of it.
func newRedisDeadline(timeout time.Duration) *sharedDeadline {
	return &sharedDeadline{timeout: int64(timeout), minLeft: int64(timeout) / 2}
}

// loadSpread is the fraction of Options.LoadTimeout by which a load's
// deadline may exceed it: loads share one timer while they start within
// that much of each other.
const loadSpread = 32

// newLoadDeadline bounds loads by timeout: a load gets at least timeout and
// at most 1/loadSpread more.
func newLoadDeadline(timeout time.Duration) *sharedDeadline {
	return &sharedDeadline{timeout: int64(timeout) + int64(timeout)/loadSpread, minLeft: int64(timeout)}
}

type deadlineCtx struct {
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

// bound returns ctx limited to the timeout, and the function to call when
// the call is done. A nil *sharedDeadline does not bound.
func (d *sharedDeadline) bound(ctx context.Context, now int64) (context.Context, context.CancelFunc) {
	if d == nil {
		return ctx, func() {}
	}
	if dl, ok := ctx.Deadline(); ok && dl.UnixNano() <= now+d.timeout {
		return ctx, func() {}
	}
	if ctx.Done() != nil {
		return context.WithTimeout(ctx, time.Duration(d.timeout))
	}
	return d.withValues(ctx, now), func() {}
}

// detach returns a context with ctx's values that ctx's cancellation and
// deadline do not reach, limited to the timeout (by nothing when d is nil):
// for work that outlives its callers, such as a shared load and the store
// after it.
func (d *sharedDeadline) detach(ctx context.Context, now int64) context.Context {
	if d == nil {
		return context.WithoutCancel(ctx)
	}
	return d.withValues(valuesOnly(ctx), now)
}

// withValues returns the shared deadline's context with the values of
// values (none when it is nil or context.Background).
func (d *sharedDeadline) withValues(values context.Context, now int64) context.Context {
	s := d.current.Load()
	if s == nil || s.end-now < d.minLeft {
		s = d.renew(now)
	}
	if values == nil || values == context.Background() || values == context.TODO() {
		return s.ctx // no values to carry
	}
	return &valuesOf{Context: s.ctx, values: values}
}

// valuesOnly returns a context whose values are ctx's, which is used for
// nothing else: the innermost that holds them.
func valuesOnly(ctx context.Context) context.Context {
	for {
		v, ok := ctx.(*valuesOf)
		if !ok {
			return ctx
		}
		ctx = v.values
	}
}

// boundBeforeLoad is bound for a read that a load follows when it fails
// (Fetch, FetchMany): if ctx has a deadline, the read gets at most half of
// the time left, so that a stalled Redis leaves the loader the other half.
// The read's own deadline then ends it, which the breaker counts.
func (d *sharedDeadline) boundBeforeLoad(ctx context.Context, now int64) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		if half := time.Until(dl) / 2; d == nil || int64(half) < d.timeout {
			return context.WithTimeout(ctx, half)
		}
	}
	return d.bound(ctx, now)
}

func (d *sharedDeadline) renew(now int64) *deadlineCtx {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.current.Load(); s != nil && s.end-now >= d.minLeft {
		return s
	}
	end := now + d.timeout
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, end))
	s := &deadlineCtx{ctx: ctx, cancel: cancel, end: end}
	// The previous deadline is not cancelled: calls may still use it, and
	// its timer releases itself when it passes.
	d.current.Store(s)
	return s
}

// close releases the current deadline's timer, ending calls still in flight.
func (d *sharedDeadline) close() {
	if d == nil {
		return
	}
	if s := d.current.Swap(nil); s != nil {
		s.cancel()
	}
}
