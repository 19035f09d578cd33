package otel

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/lock"
)

// Attribute keys of the lock instruments.
const (
	lockerKey     = attribute.Key("typecache.lock.locker")
	lockResultKey = attribute.Key("typecache.lock.result")
)

// LockObserver returns a [lock.Observer] for Options.Observer of the Locker
// whose Prefix is name, that records into m's typecache.lock.*
// instruments with the attribute typecache.lock.locker = name, then passes
// every call on to next (nil means none). Lock names never become
// attributes: they are unbounded. Fencing tokens are not recorded.
func (m *Metrics) LockObserver(name string, next lock.Observer) lock.Observer {
	if m == nil {
		return next
	}
	if next == nil {
		next = lock.NoopObserver{}
	}
	n := lockerKey.String(name)
	result := func(v string) attrs { return newAttrs(n, lockResultKey.String(v)) }
	return &lockObserver{
		m:           m,
		next:        next,
		name:        newAttrs(n),
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
