package counter

import (
	"errors"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/optionerr"
	"github.com/typecache/typecache/internal/rediscmd"
)

// Errors returned for bad input and when Redis is unavailable. Each is
// wrapped with the key it concerns.
var (
	// ErrInvalidOptions is wrapped by the constructors' errors for invalid
	// options; the message names the field.
	ErrInvalidOptions = errors.New("counter: invalid options")
	// ErrEmptyKey is returned for an empty key.
	ErrEmptyKey = errors.New("counter: empty key")
	// ErrOverflow is returned when an increment would take a counter past
	// the range of int64. The counter keeps its value: counters never wrap.
	ErrOverflow = errors.New("counter: int64 overflow")
	// ErrInvalidCount is returned by Windowed.Last and Sum for a number of
	// windows below 1 or above WindowOptions.Keep.
	ErrInvalidCount = errors.New("counter: invalid number of windows")
	// ErrBufferFull is returned by Buffered.Add for a new key while
	// BufferOptions.MaxKeys keys are waiting for a flush.
	ErrBufferFull = errors.New("counter: buffer full")
	// ErrClosed is returned (possibly wrapped) by a Buffered's Add and Get
	// after its Close, and by every call of a Counter, a Windowed and a
	// Buffered after the Close of their typecache.Client (the constructors
	// included). It matches typecache.ErrClosed, as every package's does.
	ErrClosed = clientconn.Closed("counter")
	// ErrUnavailable is returned (wrapped) at once, without a round trip,
	// while the client's breaker of the key's Redis node is open (see
	// typecache.Breaker); a Buffered's flush keeps such keys' deltas for the
	// next one.
	// It matches typecache.ErrUnavailable, as every package's does.
	ErrUnavailable = clientconn.Unavailable("counter")
)

// errCircuitOpen is ErrUnavailable as the cause of an error that already
// says "counter: <op> <key>".
var errCircuitOpen = rediscmd.CircuitOpen(ErrUnavailable)

// errClosed is ErrClosed as the cause of an error that already says
// "counter: <op> <key>".
var errClosed = clientconn.ClosedCause(ErrClosed)

// invalid reports invalid options: an error wrapping ErrInvalidOptions
// whose message goes on with format, which names the field.
var invalid = optionerr.For(ErrInvalidOptions)
