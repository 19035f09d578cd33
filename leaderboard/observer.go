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

// NoopObserver is an [Observer] that does nothing, the default. Embed it in
// an observer to implement only the methods you need.
type NoopObserver struct{}

// OnTop does nothing.
func (NoopObserver) OnTop(bool) {}

// OnTrim does nothing.
func (NoopObserver) OnTrim(int) {}
