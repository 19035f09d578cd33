package leaderboard

// An Observer is told what a Board does, for metrics and logs. Its methods
// are called synchronously on the callers' goroutines, concurrently: they
// must be safe for concurrent use, cheap, and must never block.
//
// Embed [NoopObserver] to implement only some methods and keep compiling
// when methods are added.
type Observer interface {
	// OnTop reports a Top call: cached is true when the local cache
	// answered, false when it took a round trip.
	OnTop(cached bool)
	// OnTrim reports members removed by a write because the board was past
	// Options.MaxSize.
	OnTrim(removed int)
}

// A NamedObserver is an [Observer] that is told the name of the Board it
// observes, so that one value can observe many boards and tell them apart
// (the otel module's observers record it as an attribute). Set it as
// Options.Observer: New calls WithName once, with the name given to New (its
// At views report to the returned Observer), and the Board reports to the
// Observer WithName returns (nil means none), which may be the NamedObserver
// itself. Every typecache package has a NamedObserver of this shape, named
// by its instances' names or prefixes.
type NamedObserver interface {
	Observer
	// WithName returns the Observer of the Board called name. New calls it
	// before the Board reports anything.
	WithName(name string) Observer
}

// NoopObserver is an [Observer] that does nothing, the default. Embed it in
// an observer to implement only the methods you need.
type NoopObserver struct{}

// OnTop does nothing.
func (NoopObserver) OnTop(bool) {}

// OnTrim does nothing.
func (NoopObserver) OnTrim(int) {}
