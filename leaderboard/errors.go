package leaderboard

import (
	"errors"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/optionerr"
	"github.com/typecache/typecache/internal/rediscmd"
)

// Errors returned for bad input, absent members, and when Redis is
// unavailable.
var (
	// ErrInvalidOptions is wrapped by New's errors for invalid options; the
	// message names the field.
	ErrInvalidOptions = errors.New("leaderboard: invalid options")
	// ErrNotFound is returned by Score, Rank and Around for a member that
	// is not on the board.
	ErrNotFound = errors.New("leaderboard: member not found")
	// ErrEmptyKey is returned for an empty member name (a member is the
	// board's key). Every package names its empty-key error ErrEmptyKey.
	ErrEmptyKey = errors.New("leaderboard: empty member")
	// ErrInvalidScore is returned for a NaN or infinite score or delta, and
	// by Incr when the sum would not be finite.
	ErrInvalidScore = errors.New("leaderboard: score must be a finite number")
	// ErrInvalidCount is returned for a count n below 1 or a negative
	// offset.
	ErrInvalidCount = errors.New("leaderboard: invalid count")
	// ErrPeriodOver is returned for a write to a periodic board whose
	// period and TTL have both passed: its keys would expire at once.
	ErrPeriodOver = errors.New("leaderboard: the board's period and TTL are over")
	// ErrUnavailable is returned (wrapped) at once, without a round trip,
	// while the client's breaker of the board's Redis node is open (see
	// typecache.Breaker).
	// It matches typecache.ErrUnavailable, as every package's does.
	ErrUnavailable = clientconn.Unavailable("leaderboard")
	// ErrClosed is returned (wrapped) by every call of a Board, and of its
	// At views, after the Board's Close or the Close of its
	// typecache.Client, and by New on a closed Client. It matches
	// typecache.ErrClosed, as every package's does.
	ErrClosed = clientconn.Closed("leaderboard")
)

// errClosed is ErrClosed as the cause of an error that already says
// "leaderboard: <op> <member>".
var errClosed = clientconn.ClosedCause(ErrClosed)

// errCircuitOpen is ErrUnavailable as the cause of an error that already
// says "leaderboard: <op> <member>".
var errCircuitOpen = rediscmd.CircuitOpen(ErrUnavailable)

// invalid reports invalid options: an error wrapping ErrInvalidOptions
// whose message goes on with format, which names the field.
var invalid = optionerr.For(ErrInvalidOptions)
