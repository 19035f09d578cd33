package codec

import (
	"errors"

	"github.com/typecache/typecache/internal/optionerr"
)

// Codec encodes values of type T to bytes and decodes them back. Every
// typecache package that stores values in Redis (cache, session) takes one.
//
// Implementations must be safe for concurrent use by multiple goroutines.
// Check a custom implementation with codectest.Run, which tests the rules
// below (round trip, foreign, truncated and corrupted input, concurrency).
type Codec[T any] interface {
	// Append appends the encoding of v to dst and returns the extended slice,
	// so callers can reuse buffers.
	Append(dst []byte, v T) ([]byte, error)

	// Decode decodes data that Append produced. Bytes that Append did not
	// produce (another codec, another version, a foreign writer, corruption,
	// truncation) return an error that wraps ErrMismatch or ErrCorrupt, never
	// a wrong value and never a panic. Decode must not retain data.
	Decode(data []byte) (T, error)
}

var (
	// ErrMismatch reports bytes written by another codec, another version of
	// a codec, or a writer that is not typecache.
	ErrMismatch = errors.New("codec: bytes were not written by this codec")

	// ErrCorrupt reports bytes that carry this codec's header but cannot be
	// decoded: truncated, altered, or failing authentication.
	ErrCorrupt = errors.New("codec: corrupt data")

	// ErrInvalidOptions reports options Compress or Encrypt cannot use; the
	// message names the field.
	ErrInvalidOptions = errors.New("codec: invalid options")
)

// invalid reports invalid options: an error wrapping ErrInvalidOptions
// whose message goes on with format, which names the field.
var invalid = optionerr.For(ErrInvalidOptions)
