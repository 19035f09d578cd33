package counter

import "time"

// An Observer is told what a counter's Buffered views do, for metrics and
// logs. Its methods are called synchronously on the callers' goroutines (and
// on a Buffered's flushing goroutine), concurrently: they must be safe for
// concurrent use, cheap, and must never block. They are never given keys'
// values.
//
// Embed [NoopObserver] to implement only some methods and keep compiling
// when methods are added.
type Observer interface {
	// OnFlush reports one flush of a Buffered: how many keys it sent, how
	// long it took, and its error (nil when every key was written).
	OnFlush(keys int, d time.Duration, err error)
	// OnRead reports a Buffered's Get: cached is true when the value came
	// from the local read cache, false when it took a round trip.
	OnRead(cached bool)
}

// A NamedObserver is an [Observer] that is told the name of the Counter it
// observes, so that one value can observe many counters and tell them apart
// (the otel module's observers record it as an attribute). Set it as
// Options.Observer: New calls WithName once, with the name given to New (its
// Buffered views report to the returned Observer), and the Counter reports
// to the Observer WithName returns (nil means none), which may be the
// NamedObserver itself. Every typecache package has a NamedObserver of this
// shape, named by its instances' names or prefixes.
type NamedObserver interface {
	Observer
	// WithName returns the Observer of the Counter called name. New calls it
	// before the Counter reports anything.
	WithName(name string) Observer
}

// NoopObserver is an [Observer] that does nothing, the default. Embed it in
// an observer to implement only the methods you need.
type NoopObserver struct{}

// OnFlush does nothing.
func (NoopObserver) OnFlush(int, time.Duration, error) {}

// OnRead does nothing.
func (NoopObserver) OnRead(bool) {}
