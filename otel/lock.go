package otel

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/lock"
)

// Attribute keys of the lock instruments.
const (
	lockerKey     = attribute.Key("typecache.lock.locker")
	lockResultKey = attribute.Key("typecache.lock.result")
)

// LockObserver returns a [lock.Observer] for Options.Observer of a
// Locker, that records into m's typecache.lock.* instruments, then passes
// every call on to next (nil means none). It is a [lock.NamedObserver]:
// lock.New gives it the Locker's Prefix, the value of the attribute
// typecache.lock.locker, and passes it on to next when next is a
// NamedObserver too. Lock names never become attributes: they are
// unbounded. Fencing tokens are not recorded.
func (m *Metrics) LockObserver(next lock.Observer) lock.Observer {
	if m == nil {
		return next
	}
	return m.lockObserver("", next)
}

// lockObserver returns the observer of the Locker whose Prefix is name (""
// when unnamed), passing calls on to next.
func (m *Metrics) lockObserver(name string, next lock.Observer) *lockObserver {
	if next == nil {
		next = lock.NoopObserver{}
	}
	n := newInstance(lockerKey, name)
	result := func(v string) attrs { return n.with(lockResultKey.String(v)) }
	return &lockObserver{
		m:           m,
		next:        next,
		name:        n.with(),
		acquired:    result("acquired"),
		notAcquired: result("not_acquired"),
		gaveUp:      result("gave_up"),
		failed:      result("error"),
		ok:          result("ok"),
	}
}

type lockObserver struct {
	m    *Metrics
	next lock.Observer

	name, acquired, notAcquired, gaveUp, failed, ok attrs
}

// WithName returns the observer of the Locker whose Prefix is name, with
// next's observer of that name (see lock.NamedObserver).
func (o *lockObserver) WithName(name string) lock.Observer {
	return o.m.lockObserver(name, observe.Named(o.next, name, lock.Observer(lock.NoopObserver{})))
}

func (o *lockObserver) OnAcquired(name string, token int64, waited time.Duration) {
	count(o.m.lockAcquisitions, 1, o.acquired)
	record(o.m.lockWait, waited, o.acquired)
	o.next.OnAcquired(name, token, waited)
}

func (o *lockObserver) OnNotAcquired(name string, waited time.Duration, err error) {
	a := o.failed
	switch {
	case errors.Is(err, lock.ErrNotAcquired):
		a = o.notAcquired
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		a = o.gaveUp
	}
	count(o.m.lockAcquisitions, 1, a)
	record(o.m.lockWait, waited, a)
	o.next.OnNotAcquired(name, waited, err)
}

func (o *lockObserver) OnExtended(name string, err error) {
	count(o.m.lockExtensions, 1, o.okOrFailed(err))
	o.next.OnExtended(name, err)
}

func (o *lockObserver) OnLost(name string, cause error) {
	count(o.m.lockLosses, 1, o.name)
	o.next.OnLost(name, cause)
}

func (o *lockObserver) OnReleased(name string, held time.Duration, err error) {
	a := o.okOrFailed(err)
	count(o.m.lockReleases, 1, a)
	record(o.m.lockHeld, held, a)
	o.next.OnReleased(name, held, err)
}

func (o *lockObserver) okOrFailed(err error) attrs {
	if err != nil {
		return o.failed
	}
	return o.ok
}
