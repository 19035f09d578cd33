package lock

import (
	"errors"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/optionerr"
	"github.com/typecache/typecache/internal/rediscmd"
)

var (
	// ErrNotAcquired is returned by TryAcquire when the lock is held elsewhere.
	ErrNotAcquired = errors.New("lock: not acquired, held elsewhere")
	// ErrNotHeld is returned by Release and Extend when the
	// lock is no longer held by this Lock (its lease lapsed, its key was
	// deleted or it was already released). It is also the cause of a lost
	// lock's Context.
	ErrNotHeld = errors.New("lock: not held")
	// ErrReleased is the cause (context.Cause) of a Lock's Context after
	// Release.
	ErrReleased = errors.New("lock: released")
	// ErrEmptyKey is returned for an empty lock name: its hash tag would be
	// empty, and the lock's two keys could land in different cluster
	// slots. Every package names its empty-key error ErrEmptyKey.
	ErrEmptyKey = errors.New("lock: empty name")
	// ErrClosed is returned (possibly wrapped) by Acquire and TryAcquire
	// after the Locker's Close, and by every call, Lock's included, after
	// the Close of its typecache.Client. It matches typecache.ErrClosed, as
	// every package's does.
	ErrClosed = clientconn.Closed("lock")
	// ErrUnavailable is returned (wrapped) at once, without a round trip,
	// while the client's breaker of the lock's Redis node is open (see
	// typecache.Breaker).
	// It matches typecache.ErrUnavailable, as every package's does.
	ErrUnavailable = clientconn.Unavailable("lock")
)

// ErrInvalidOptions is wrapped by the errors New returns for invalid
// options; the message names the field.
var ErrInvalidOptions = errors.New("lock: invalid options")

// errCircuitOpen is ErrUnavailable as the cause of an error that already
// says "lock: <op> <name>".
var errCircuitOpen = rediscmd.CircuitOpen(ErrUnavailable)

// invalid reports invalid options: an error wrapping ErrInvalidOptions
// whose message goes on with format, which names the field.
var invalid = optionerr.For(ErrInvalidOptions)
