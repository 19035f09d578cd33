// Package codectest checks that a codec.Codec keeps the contract the rest of
// typecache relies on. Run it in a test of your own codec:
//
//	func TestUserCodec(t *testing.T) {
//		codectest.Run(t, myCodec{}, []User{{}, {Name: "Ada", Tags: []string{"x"}}})
//	}
//
// # Rules
//
// For every sample s and its encoding e = c.Append(nil, s):
//
//   - Round trip: c.Decode(e) equals s (go-cmp, nil and empty slices and maps
//     equal). Append(dst, s) keeps dst's bytes and appends e's equivalent.
//     Decode does not retain e: overwriting e afterwards does not change the
//     decoded value.
//   - Foreign bytes: nil, empty input, random bytes, raw JSON and MessagePack
//     of s, and the frames of the other built-in codecs and wrappers either
//     fail, or (for a built-in frame that encodes s or another value of T
//     exactly) decode to that very value.
//   - Truncation: every proper prefix of e fails (for encodings over 384
//     bytes: the first and last 128 prefixes and 128 between).
//   - Corruption: every single-bit flip of e, e with a byte appended, and e
//     twice over fail (for encodings over 96 bytes: the bits of the first and
//     last 16 bytes and of 64 bytes between).
//   - Concurrency: Append and Decode from 8 goroutines at once give the same
//     results (run with -race to check for data races).
//
// "Fails" means Decode returns the zero value (reflect's IsZero) and an error that wraps
// codec.ErrMismatch or codec.ErrCorrupt. Decode never panics. The built-in
// codecs meet every rule; a codec without a checksum cannot detect every
// truncation or bit flip and needs AllowUndetectedDamage.
package codectest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/typecache/typecache/codec"
)

// Option changes what Run checks.
type Option func(*config)

type config struct {
	cmpOptions      []cmp.Option
	allowUndetected bool
}

// CompareOptions adds go-cmp options for comparing decoded values with the
// samples, for example cmpopts.IgnoreUnexported(User{}) or
// cmp.AllowUnexported(User{}) for types with unexported fields.
func CompareOptions(opts ...cmp.Option) Option {
	return func(c *config) { c.cmpOptions = append(c.cmpOptions, opts...) }
}

// AllowUndetectedDamage lets a truncated or corrupted encoding decode
// without an error, for codecs that carry no checksum. Such input must still
// not panic, and any error must still wrap codec.ErrMismatch or
// codec.ErrCorrupt. Foreign bytes must still be rejected.
func AllowUndetectedDamage() Option {
	return func(c *config) { c.allowUndetected = true }
}

// Run checks c against the rules in the package documentation, using
// samples as the values to encode; give a few, including the zero value and
// one with every field set. Each rule is a subtest of t.
func Run[T any](t *testing.T, c codec.Codec[T], samples []T, opts ...Option) {
	t.Helper()
	if len(samples) == 0 {
		t.Fatal("codectest: Run needs at least one sample")
	}
	cfg := config{cmpOptions: []cmp.Option{cmpopts.EquateEmpty()}}
	for _, o := range opts {
		o(&cfg)
	}
	h := &harness[T]{c: c, cfg: cfg, samples: samples}
	h.encodings = make([][]byte, len(samples))
	for i, s := range samples {
		e, err := c.Append(nil, s)
		if err != nil {
			t.Fatalf("codectest: sample %d: Append: %v", i, err)
		}
		h.encodings[i] = e
	}
	t.Run("round-trip", h.roundTrip)
	t.Run("foreign-bytes", h.foreignBytes)
	t.Run("truncated", h.truncated)
	t.Run("corrupted", h.corrupted)
	t.Run("concurrent", h.concurrent)
}
