package ratelimit

import (
	"errors"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/optionerr"
	"github.com/typecache/typecache/internal/rediscmd"
)

// ErrInvalidOptions is wrapped by the errors of New and Middleware for
// invalid options; the message names the field.
var ErrInvalidOptions = errors.New("ratelimit: invalid options")

// ErrEmptyKey is returned for an empty key: it would make every caller share
// one limit.
var ErrEmptyKey = errors.New("ratelimit: empty key")

// ErrInvalidCost is returned by AllowN for a cost below 1.
var ErrInvalidCost = errors.New("ratelimit: cost must be at least 1")

// ErrUnavailable is the Result.Err (wrapped with the key) of a decision
// taken by the FailureMode without a round trip, because the client's
// breaker of the key's Redis node is open (see typecache.Breaker).
// It matches typecache.ErrUnavailable, as every package's does.
var ErrUnavailable = clientconn.Unavailable("ratelimit")

// errCircuitOpen is ErrUnavailable as the cause of an error that already
// says "ratelimit: key ...".
var errCircuitOpen = rediscmd.CircuitOpen(ErrUnavailable)

// ErrClosed is returned (wrapped) by every call of a Limiter, and by New,
// once its typecache.Client is closed: a closed client is a programming
// error, not an outage, so AllowN returns it as an error rather than the
// FailureMode's decision, and Middleware hands it to ErrorHandler. A
// Limiter holds nothing of its own and has no Close. It matches
// typecache.ErrClosed, as every package's does.
var ErrClosed = clientconn.Closed("ratelimit")

// ErrCostExceedsLimit is returned by AllowN for a cost larger than the
// limiter's Burst (GCRA) or Limit (other algorithms): such a request can
// never be allowed, so no retry time is given for it.
var ErrCostExceedsLimit = errors.New("ratelimit: cost exceeds the limit, the request can never be allowed")

// invalid reports invalid options: an error wrapping ErrInvalidOptions
// whose message goes on with format, which names the field.
var invalid = optionerr.For(ErrInvalidOptions)
