package cache

import (
	"errors"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/optionerr"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/transport"
)

// Errors returned by a Cache. Errors from Redis and from the codec are
// wrapped with the key.
var (
	// ErrNotFound reports a key that is absent: never stored, expired,
	// deleted, or cached as absent after a loader returned ErrNotFound.
	// Loaders return it (or an error wrapping it) to say a key does not exist.
	ErrNotFound = errors.New("cache: not found")

	// ErrStale accompanies a value past its TTL, returned by Fetch inside the
	// stale window because the loader failed. The error also wraps the
	// loader's error.
	ErrStale = errors.New("cache: stale value")

	// ErrUnavailable reports that Redis is considered down (the breaker is
	// open); it is returned at once, without a round trip.
	// It matches typecache.ErrUnavailable, as every package's does.
	ErrUnavailable = clientconn.Unavailable("cache")

	// ErrClosed reports a call after the Close of the Cache or of the
	// typecache.Client it was built on, and New on a closed Client. It
	// matches typecache.ErrClosed, as every package's does, and never
	// typecache.ErrUnavailable: a closed Client is no outage, and no call
	// falls back to the loader or the local tier on it.
	ErrClosed = clientconn.Closed("cache")

	// ErrEmptyKey reports an empty key. Every package names its
	// empty-key error ErrEmptyKey.
	ErrEmptyKey = errors.New("cache: empty key")

	// ErrTooLarge reports a value whose encoding exceeds Options.MaxValueBytes.
	ErrTooLarge = errors.New("cache: value too large")

	// ErrInvalidOptions reports options New cannot use; the message names
	// the field.
	ErrInvalidOptions = errors.New("cache: invalid options")

	// ErrInvalidArgument reports a nil Loader, BatchLoader, Writer or
	// SetOption, or a WithTTL out of range.
	ErrInvalidArgument = errors.New("cache: invalid argument")

	// ErrSuperseded reports a loaded value that was not stored because a
	// write (or another load) reached the key while the loader ran; the
	// value is still returned to the callers of that load.
	ErrSuperseded = errors.New("cache: load superseded by a write")
)

// errCircuitOpen is ErrUnavailable as the cause of an error that already
// says "cache: <op> ..." (a wrapper that does not trim the prefix, as
// keyErr does, would repeat it).
var errCircuitOpen = rediscmd.CircuitOpen(ErrUnavailable)

// failure returns err, the failure of a call to Redis, as its caller sees
// it: matching ErrClosed when the Client closed under the call
// (clientconn.Closing), and otherwise ErrUnavailable too when the node
// refused the connection (transport.Unsent: nothing was sent), from the
// first such call, before the breaker opens.
func (c *Cache[T]) failure(err error) error {
	if err != nil && c.conn.Closed() {
		return clientconn.Closing(c.conn, err, ErrClosed)
	}
	return transport.Unsent(err, errCircuitOpen)
}

// invalid reports invalid options: an error wrapping ErrInvalidOptions
// whose message goes on with format, which names the field.
var invalid = optionerr.For(ErrInvalidOptions)
