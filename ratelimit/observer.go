package ratelimit

import (
	"context"
	"log/slog"
)

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

// A NamedObserver is an [Observer] that is told the name of the Limiter it
// observes, so that one value can observe many limiters and tell them apart
// (the otel module's observers record it as an attribute). Set it as
// Options.Observer: New calls WithName once, with Options.Prefix
// (DefaultPrefix when empty), and the Limiter reports to the Observer
// WithName returns (nil means none), which may be the NamedObserver itself.
// Every typecache package has a NamedObserver of this shape, named by its
// instances' names or prefixes.
type NamedObserver interface {
	Observer
	// WithName returns the Observer of the Limiter whose Prefix is name. New
	// calls it before the Limiter reports anything.
	WithName(name string) Observer
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

// LogObserver returns an Observer that writes each decision to logger (nil
// means slog.Default()) with its key: allowed and denied requests at Debug,
// fail-open and fail-closed decisions at Warn, errors at Error. Each is one
// line per request: while Redis is down every request logs a Warn, so give
// it a handler that samples where that would be too much. A disabled level
// costs no allocation.
func LogObserver(logger *slog.Logger) Observer {
	if logger == nil {
		logger = slog.Default()
	}
	return logObserver{logger}
}

type logObserver struct{ l *slog.Logger }

// log writes msg at level with key and, when err is nil, the cost n, else
// err; the Enabled check keeps a disabled level from building attributes.
func (o logObserver) log(level slog.Level, msg, key string, n int, err error) {
	ctx := context.Background()
	switch {
	case !o.l.Enabled(ctx, level):
	case err != nil:
		o.l.LogAttrs(ctx, level, msg, slog.String("key", key), slog.Any("err", err))
	default:
		o.l.LogAttrs(ctx, level, msg, slog.String("key", key), slog.Int("cost", n))
	}
}

func (o logObserver) OnAllowed(key string, n int) {
	o.log(slog.LevelDebug, "rate limit allowed", key, n, nil)
}

func (o logObserver) OnDenied(key string, n int) {
	o.log(slog.LevelDebug, "rate limit denied", key, n, nil)
}

func (o logObserver) OnDeniedLocally(key string, n int) {
	o.log(slog.LevelDebug, "rate limit denied locally", key, n, nil)
}

func (o logObserver) OnFailOpen(key string, err error) {
	o.log(slog.LevelWarn, "rate limit failed open", key, 0, err)
}

func (o logObserver) OnFailClosed(key string, err error) {
	o.log(slog.LevelWarn, "rate limit failed closed", key, 0, err)
}

func (o logObserver) OnError(key string, err error) {
	o.log(slog.LevelError, "rate limit error", key, 0, err)
}
