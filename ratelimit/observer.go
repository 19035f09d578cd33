package ratelimit

// An Observer is told about every decision of a Limiter, for metrics and
// logs; an OpenTelemetry or Prometheus adapter implements it. Its methods
// are called synchronously on the goroutine that asked for the decision,
// concurrently: they must be safe for concurrent use, cheap, and must never
// block.
//
// key is the identifier the caller passed (a client IP, a user id): useful
// in logs to find who is limited, but unbounded as a metric attribute, and
// possibly personal data. n is the request's cost.
//
// Embed [NoopObserver] to implement only some methods and keep compiling
// when methods are added.
type Observer interface {
	// OnAllowed reports a request Redis admitted.
	OnAllowed(key string, n int)
	// OnDenied reports a request Redis denied.
	OnDenied(key string, n int)
	// OnDeniedLocally reports a request the local deny cache denied without
	// asking Redis.
	OnDeniedLocally(key string, n int)
	// OnFailOpen reports a request admitted because Redis was unavailable;
	// err says why.
	OnFailOpen(key string, err error)
	// OnFailClosed reports a request denied because Redis was unavailable;
	// err says why.
	OnFailClosed(key string, err error)
	// OnError reports an error returned to the caller because Redis replied
	// with something other than a decision or an outage (WRONGTYPE, a script
	// error): a misconfiguration or tampering to look into. Bad arguments
	// and cancelled contexts are not reported.
	OnError(key string, err error)
}

// NoopObserver is an [Observer] that does nothing, the default. Embed it in
// an observer to implement only the methods you need.
type NoopObserver struct{}

// OnAllowed does nothing.
func (NoopObserver) OnAllowed(string, int) {}

// OnDenied does nothing.
func (NoopObserver) OnDenied(string, int) {}

// OnDeniedLocally does nothing.
func (NoopObserver) OnDeniedLocally(string, int) {}

// OnFailOpen does nothing.
func (NoopObserver) OnFailOpen(string, error) {}

// OnFailClosed does nothing.
func (NoopObserver) OnFailClosed(string, error) {}

// OnError does nothing.
func (NoopObserver) OnError(string, error) {}
