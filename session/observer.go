package session

import (
	"context"
	"log/slog"
)

// Event names the session an Observer hears about. It never holds a token.
type Event struct {
	// UserID is the session's owner; empty for an anonymous session.
	UserID string
	// ID is the session's opaque public identifier (Session.ID): a
	// shortened hash of the token's hash, safe to log, useless as a token.
	ID string
}

// RejectReason says why a token named no session.
type RejectReason uint8

const (
	// RejectMalformed is a token a Store could not have issued, turned
	// away before any Redis call.
	RejectMalformed RejectReason = iota + 1
	// RejectUnknown is a well-formed token of no live session: never
	// issued, expired, destroyed, or replaced by Regenerate.
	RejectUnknown
	// RejectTampered is a record that is not what the store writes, or
	// whose HMAC fails under Options.IntegrityKeys.
	RejectTampered
	// RejectUndecodable is a record whose data the codec cannot decode (a
	// removed encryption key, a changed type or codec).
	RejectUndecodable
)

// String returns "malformed", "unknown", "tampered" or "undecodable".
func (r RejectReason) String() string {
	switch r {
	case RejectMalformed:
		return "malformed"
	case RejectUnknown:
		return "unknown"
	case RejectTampered:
		return "tampered"
	case RejectUndecodable:
		return "undecodable"
	}
	return "invalid"
}

// An Observer is told of every session's life-cycle event, for metrics and
// audit logs (the OWASP Session Management Cheat Sheet asks for both);
// LogObserver writes them to a *slog.Logger. No method is ever passed a
// token. Methods are called synchronously on the callers' goroutines,
// concurrently: they must be safe for concurrent use, cheap, and must never
// block.
//
// Embed [NoopObserver] to implement only some methods and keep compiling
// when methods are added.
type Observer interface {
	// OnCreated reports a session stored by Create, or by Start when the
	// response header is written.
	OnCreated(e Event)
	// OnLoaded reports a session read by Get (or Middleware); local is
	// true when it was served from this process's memory, without a round
	// trip.
	OnLoaded(e Event, local bool)
	// OnSaved reports a successful Save.
	OnSaved(e Event)
	// OnConflict reports a Save or Regenerate refused with ErrConflict.
	OnConflict(e Event)
	// OnRegenerated reports a session moved to a new token; e names the
	// new session, oldID the one it replaced.
	OnRegenerated(e Event, oldID string)
	// OnDestroyed reports a session ended by Destroy, End or Revoke.
	OnDestroyed(e Event)
	// OnDestroyedAll reports DestroyAll(userID) and how many sessions it
	// ended.
	OnDestroyedAll(userID string, n int)
	// OnRejected reports a token that named no session.
	OnRejected(reason RejectReason)
	// OnError reports a failure to reach Redis or an unexpected reply;
	// op is "get", "create", "save", "regenerate", "destroy", "revoke" or
	// "list".
	OnError(op string, err error)
}

// A NamedObserver is an [Observer] that is told the name of the Store it
// observes, so that one value can observe many stores and tell them apart
// (the otel module's observers record it as an attribute). Set it as
// Options.Observer: New calls WithName once, with Options.Prefix
// (DefaultPrefix when empty), and the Store reports to the Observer WithName
// returns (nil means none), which may be the NamedObserver itself. Every
// typecache package has a NamedObserver of this shape, named by its
// instances' names or prefixes.
type NamedObserver interface {
	Observer
	// WithName returns the Observer of the Store whose Prefix is name. New
	// calls it before the Store reports anything.
	WithName(name string) Observer
}

// NoopObserver is an [Observer] that does nothing, the default. Embed it in
// an observer to implement only the methods you need.
type NoopObserver struct{}

// OnCreated does nothing.
func (NoopObserver) OnCreated(Event) {}

// OnLoaded does nothing.
func (NoopObserver) OnLoaded(Event, bool) {}

// OnSaved does nothing.
func (NoopObserver) OnSaved(Event) {}

// OnConflict does nothing.
func (NoopObserver) OnConflict(Event) {}

// OnRegenerated does nothing.
func (NoopObserver) OnRegenerated(Event, string) {}

// OnDestroyed does nothing.
func (NoopObserver) OnDestroyed(Event) {}

// OnDestroyedAll does nothing.
func (NoopObserver) OnDestroyedAll(string, int) {}

// OnRejected does nothing.
func (NoopObserver) OnRejected(RejectReason) {}

// OnError does nothing.
func (NoopObserver) OnError(string, error) {}

// LogObserver returns an Observer that writes each event to logger (nil
// means slog.Default()) with the user ID and the public session ID, never
// a token: creations, regenerations and destructions at Info, loads and
// saves at Debug, conflicts and unknown tokens at Info, malformed, tampered
// and undecodable records at Warn, errors at Error.
func LogObserver(logger *slog.Logger) Observer {
	if logger == nil {
		logger = slog.Default()
	}
	return logObserver{logger}
}

type logObserver struct{ l *slog.Logger }

// log writes msg at level with e's attributes; the Enabled check keeps a
// disabled level (Debug, for loads) from allocating.
func (o logObserver) log(level slog.Level, msg string, attrs ...slog.Attr) {
	ctx := context.Background()
	if o.l.Enabled(ctx, level) {
		o.l.LogAttrs(ctx, level, msg, attrs...)
	}
}

func eventAttrs(e Event) []slog.Attr {
	return []slog.Attr{slog.String("user", e.UserID), slog.String("session", e.ID)}
}

func (o logObserver) OnCreated(e Event) { o.log(slog.LevelInfo, "session created", eventAttrs(e)...) }

func (o logObserver) OnLoaded(e Event, local bool) {
	if o.l.Enabled(context.Background(), slog.LevelDebug) {
		o.log(slog.LevelDebug, "session loaded", append(eventAttrs(e), slog.Bool("local", local))...)
	}
}

func (o logObserver) OnSaved(e Event) {
	if o.l.Enabled(context.Background(), slog.LevelDebug) {
		o.log(slog.LevelDebug, "session saved", eventAttrs(e)...)
	}
}

func (o logObserver) OnConflict(e Event) {
	o.log(slog.LevelInfo, "session save conflict", eventAttrs(e)...)
}

func (o logObserver) OnRegenerated(e Event, oldID string) {
	o.log(slog.LevelInfo, "session regenerated", append(eventAttrs(e), slog.String("previous", oldID))...)
}

func (o logObserver) OnDestroyed(e Event) {
	o.log(slog.LevelInfo, "session destroyed", eventAttrs(e)...)
}

func (o logObserver) OnDestroyedAll(userID string, n int) {
	o.log(slog.LevelInfo, "all sessions destroyed", slog.String("user", userID), slog.Int("sessions", n))
}

func (o logObserver) OnRejected(reason RejectReason) {
	level := slog.LevelWarn
	if reason == RejectUnknown {
		level = slog.LevelInfo
	}
	o.log(level, "session token rejected", slog.String("reason", reason.String()))
}

func (o logObserver) OnError(op string, err error) {
	o.log(slog.LevelError, "session error", slog.String("op", op), slog.Any("err", err))
}
