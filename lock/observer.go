package lock

import "time"

// An Observer is told what a Locker's locks do, for metrics and logs; an
// OpenTelemetry or Prometheus adapter implements it. Its methods are called
// synchronously, concurrently, on the goroutine that acquires, extends or
// releases (the watchdog's for its extensions and the losses they find):
// they must be safe for concurrent use, cheap, and must never block.
//
// name is the lock's name as the caller passed it: useful in logs, but
// unbounded as a metric attribute.
//
// Embed [NoopObserver] to implement only some methods and keep compiling
// when methods are added.
type Observer interface {
	// OnAcquired reports a lock taken by Acquire or TryAcquire, with its
	// fencing token and how long the call waited for other holders (0 when
	// the lock was free at once).
	OnAcquired(name string, token int64, waited time.Duration)
	// OnNotAcquired reports an Acquire or TryAcquire that returned without
	// the lock after waiting waited: err wraps ErrNotAcquired (TryAcquire
	// found it held), the context's error (Acquire gave up), ErrClosed, or
	// a Redis error.
	OnNotAcquired(name string, waited time.Duration, err error)
	// OnExtended reports an extension of a held lock's lease, by the
	// watchdog or Extend: err is nil, or the Redis error that made it fail
	// (the watchdog retries; a lock found gone is reported by OnLost).
	OnExtended(name string, err error)
	// OnLost reports a held lock lost before its release: its key was
	// deleted, expired or taken, or its lease ran out while Redis could not
	// be reached. cause wraps ErrNotHeld and is also its Context's cause.
	OnLost(name string, cause error)
	// OnReleased reports a lock given up by Release and how long it was
	// held; err is nil, or the Redis error of the release
	// (the lease then lapses by itself).
	OnReleased(name string, held time.Duration, err error)
}

// A NamedObserver is an [Observer] that is told the name of the Locker it
// observes, so that one value can observe many Lockers and tell them apart
// (the otel module's observers record it as an attribute). Set it as
// Options.Observer: New calls WithName once, with Options.Prefix
// (DefaultPrefix when empty), and the Locker reports to the Observer
// WithName returns (nil means none), which may be the NamedObserver itself.
// Every typecache package has a NamedObserver of this shape, named by its
// instances' names or prefixes.
type NamedObserver interface {
	Observer
	// WithName returns the Observer of the Locker whose Prefix is name. New
	// calls it before the Locker reports anything.
	WithName(name string) Observer
}

// NoopObserver is an [Observer] that does nothing, the default. Embed it in
// an observer to implement only the methods you need.
type NoopObserver struct{}

// OnAcquired does nothing.
func (NoopObserver) OnAcquired(string, int64, time.Duration) {}

// OnNotAcquired does nothing.
func (NoopObserver) OnNotAcquired(string, time.Duration, error) {}

// OnExtended does nothing.
func (NoopObserver) OnExtended(string, error) {}

// OnLost does nothing.
func (NoopObserver) OnLost(string, error) {}

// OnReleased does nothing.
func (NoopObserver) OnReleased(string, time.Duration, error) {}
