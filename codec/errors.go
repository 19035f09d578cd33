package codec

import (
	"fmt"
	"strings"
)

// Error reports which codec failed and why. Decode errors wrap ErrMismatch
// or ErrCorrupt (test with errors.Is); Append errors wrap the underlying
// encoder's error. Its message reads "codec: json: ...".
type Error struct {
	// Codec names the codec that failed: "json", "msgpack", "string",
	// "bytes", "compress" or "encrypt".
	Codec string
	// Err is the cause.
	Err error
}

// Error returns "codec: <codec>: <cause>".
func (e *Error) Error() string {
	// The sentinels carry the package prefix already; say it once.
	return "codec: " + e.Codec + ": " + strings.TrimPrefix(e.Err.Error(), "codec: ")
}

// Unwrap returns the cause, so errors.Is(err, ErrMismatch) works.
func (e *Error) Unwrap() error { return e.Err }

func mismatch(f format, detail string, args ...any) error {
	return &Error{Codec: f.String(), Err: fmt.Errorf("%w: "+detail, append([]any{ErrMismatch}, args...)...)}
}

func corrupt(f format, detail string, args ...any) error {
	return &Error{Codec: f.String(), Err: fmt.Errorf("%w: "+detail, append([]any{ErrCorrupt}, args...)...)}
}

// encodeError wraps an encoder's error with the codec's name.
func encodeError(f format, err error) error {
	return &Error{Codec: f.String(), Err: err}
}
