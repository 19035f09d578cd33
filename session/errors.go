package session

import (
	"errors"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/optionerr"
	"github.com/typecache/typecache/internal/rediscmd"
)

var (
	// ErrNotFound reports that no live session has the given token: it is
	// unknown, expired, destroyed, or not a well-formed token at all. All
	// these cases return this same value, so callers cannot tell them apart
	// and neither can an attacker probing tokens. A record that fails its
	// integrity check or cannot be decoded gives an error that wraps it.
	ErrNotFound = errors.New("session: not found")

	// ErrConflict reports that Save or Regenerate lost a race: the session
	// was saved by another request after this copy was loaded. Reload it
	// with Get and apply the change again.
	ErrConflict = errors.New("session: saved by another request since it was loaded")

	// ErrEmptyKey reports a per-user operation (List, DestroyAll, Revoke)
	// called with an empty user ID, the key of those operations. Sessions
	// created with an empty user ID are anonymous and belong to no user.
	// Every package names its empty-key error ErrEmptyKey.
	ErrEmptyKey = errors.New("session: empty user ID")

	// ErrNoMiddleware reports a request helper (Put, Start, Renew, End)
	// called with a context that did not come through this Store's
	// Middleware.
	ErrNoMiddleware = errors.New("session: context did not come through this Store's Middleware")

	// ErrUnavailable is wrapped by the errors of calls that were not sent
	// to Redis because its node is known to be unreachable: at once,
	// without a round trip, while the client's breaker of the session's
	// node is open (see typecache.Breaker), and from the first call that
	// found the node refusing connections. The command never reached
	// Redis, so nothing was written. A call whose outcome is unknown (a
	// deadline that ran out after the command was sent) returns another
	// error: it may have been applied. It matches typecache.ErrUnavailable,
	// as every package's does.
	ErrUnavailable = clientconn.Unavailable("session")

	// ErrClosed is wrapped by the error of every call of a Store after its
	// Close or the Close of its typecache.Client, and by New on a closed
	// Client: using a closed Store is a programming error, never an outage,
	// so Middleware sends it to Options.ErrorHandler whatever the
	// FailureMode. It matches typecache.ErrClosed, as every package's does.
	ErrClosed = clientconn.Closed("session")

	// ErrHeaderWritten reports Put, Start or Renew called after the
	// response header was written: the session was committed with the
	// header (the cookie is a header), so the change could not reach the
	// browser, and nothing was changed.
	ErrHeaderWritten = errors.New("session: response header already written, the session can no longer change in this request")
)

// ErrInvalidOptions is wrapped by New's errors for invalid Options; the
// message names the field.
var ErrInvalidOptions = errors.New("session: invalid options")

// ErrTampered is wrapped (with ErrNotFound) by reads of a record whose
// HMAC does not verify under Options.IntegrityKeys: someone with write
// access to Redis minted or changed it, or it was signed by a key no
// longer listed.
var ErrTampered = errors.New("session: record failed its integrity check")

// errCircuitOpen is ErrUnavailable as the cause of an error that already
// says "session: <op> <key>".
var errCircuitOpen = rediscmd.CircuitOpen(ErrUnavailable)

// invalid reports invalid options: an error wrapping ErrInvalidOptions
// whose message goes on with format, which names the field.
var invalid = optionerr.For(ErrInvalidOptions)
