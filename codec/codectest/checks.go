package codectest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/typecache/typecache/codec"
)

type harness[T any] struct {
	c         codec.Codec[T]
	cfg       config
	samples   []T
	encodings [][]byte // encodings[i] = c.Append(nil, samples[i])
}

// decode runs c.Decode, turning a panic into a test failure.
func (h *harness[T]) decode(t *testing.T, data []byte) (v T, ok bool, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Decode(%s) panicked: %v", show(data), p)
			ok = false
		}
	}()
	v, err = h.c.Decode(data)
	return v, true, err
}

// expectDamageDetected checks the rule for a damaged encoding: an error
// wrapping a codec sentinel and the zero value (or, under
// AllowUndetectedDamage, any value without an error).
func (h *harness[T]) expectDamageDetected(t *testing.T, what string, data []byte) {
	t.Helper()
	v, ok, err := h.decode(t, data)
	switch {
	case !ok:
	case err == nil && h.cfg.allowUndetected:
	case err == nil:
		t.Errorf("%s: Decode(%s) = %+v, nil; want an error wrapping codec.ErrMismatch or codec.ErrCorrupt", what, show(data), v)
	default:
		h.checkError(t, what, data, v, err)
	}
}

// checkError checks a Decode error: it wraps a sentinel and comes with the
// zero value.
func (h *harness[T]) checkError(t *testing.T, what string, data []byte, v T, err error) {
	t.Helper()
	if !errors.Is(err, codec.ErrMismatch) && !errors.Is(err, codec.ErrCorrupt) {
		t.Errorf("%s: Decode(%s) error %q wraps neither codec.ErrMismatch nor codec.ErrCorrupt", what, show(data), err)
	}
	if !reflect.ValueOf(&v).Elem().IsZero() {
		t.Errorf("%s: Decode(%s) returned %+v with error %q; want the zero value", what, show(data), v, err)
	}
}

func (h *harness[T]) roundTrip(t *testing.T) {
	for i, s := range h.samples {
		e := h.encodings[i]
		h.expectValue(t, fmt.Sprintf("sample %d", i), e, s)

		prefix := []byte("existing bytes")
		dst := append(make([]byte, 0, len(prefix)+len(e)+64), prefix...)
		out, err := h.c.Append(dst, s)
		if err != nil {
			t.Fatalf("sample %d: Append to a non-empty slice: %v", i, err)
		}
		if !bytes.HasPrefix(out, prefix) {
			t.Errorf("sample %d: Append(dst, v) changed dst's bytes: %s", i, show(out))
		}
		h.expectValue(t, fmt.Sprintf("sample %d appended to a non-empty slice", i), out[len(prefix):], s)

		// Decode must not retain its input: callers reuse their buffers.
		buf := bytes.Clone(e)
		v, err := h.c.Decode(buf)
		if err != nil {
			t.Fatalf("sample %d: Decode: %v", i, err)
		}
		for j := range buf {
			buf[j] ^= 0xFF
		}
		if diff := cmp.Diff(s, v, h.cfg.cmpOptions...); diff != "" {
			t.Errorf("sample %d: the decoded value changed when its input was overwritten (Decode retained the input) (-want +got):\n%s", i, diff)
		}
	}
}

// expectValue checks that data decodes to want.
func (h *harness[T]) expectValue(t *testing.T, what string, data []byte, want T) {
	t.Helper()
	v, ok, err := h.decode(t, data)
	if !ok {
		return
	}
	if err != nil {
		t.Errorf("%s: Decode(%s): %v", what, show(data), err)
		return
	}
	if diff := cmp.Diff(want, v, h.cfg.cmpOptions...); diff != "" {
		t.Errorf("%s: Decode(Append(v)) != v (-want +got):\n%s", what, diff)
	}
}

// foreignInput is bytes that c did not write. valid marks a built-in frame
// of value want, which c may decode only to exactly want.
type foreignInput[T any] struct {
	name  string
	data  []byte
	want  T
	valid bool
}

func (h *harness[T]) foreignBytes(t *testing.T) {
	for _, in := range h.foreignInputs() {
		v, ok, err := h.decode(t, in.data)
		switch {
		case !ok:
		case err != nil:
			h.checkError(t, in.name, in.data, v, err)
		case !in.valid:
			t.Errorf("%s: Decode(%s) = %+v, nil; want an error wrapping codec.ErrMismatch", in.name, show(in.data), v)
		default:
			if diff := cmp.Diff(in.want, v, h.cfg.cmpOptions...); diff != "" {
				t.Errorf("%s: decoded to a wrong value (-want +got):\n%s", in.name, diff)
			}
		}
	}
}

func (h *harness[T]) foreignInputs() []foreignInput[T] {
	ins := []foreignInput[T]{
		{name: "nil"},
		{name: "empty", data: []byte{}},
		{name: "zero byte", data: []byte{0}},
		{name: "redis-style text", data: []byte("OK")},
	}
	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: the same inputs every run
	for i := range 16 {
		junk := make([]byte, 1+rng.IntN(64))
		for j := range junk {
			junk[j] = byte(rng.UintN(256))
		}
		ins = append(ins, foreignInput[T]{name: fmt.Sprintf("random bytes %d", i), data: junk})
	}
	for _, str := range []string{"", "hello", `{"a":1}`} {
		in := foreignInput[T]{name: fmt.Sprintf("codec.String frame of %q", str), data: mustAppend(codec.String(), str)}
		in.want, in.valid = any(str).(T)
		ins = append(ins, in)
		in = foreignInput[T]{name: fmt.Sprintf("codec.Bytes frame of %q", str), data: mustAppend(codec.Bytes(), []byte(str))}
		in.want, in.valid = any([]byte(str)).(T)
		ins = append(ins, in)
	}
	for i, s := range h.samples {
		if raw, err := json.Marshal(s); err == nil {
			ins = append(ins, foreignInput[T]{name: fmt.Sprintf("raw JSON of sample %d", i), data: raw})
		}
		if raw, err := msgpack.Marshal(s); err == nil {
			ins = append(ins, foreignInput[T]{name: fmt.Sprintf("raw MessagePack of sample %d", i), data: raw})
		}
		for name, other := range builtinCodecs[T]() {
			if data, err := other.Append(nil, s); err == nil {
				ins = append(ins, foreignInput[T]{name: fmt.Sprintf("%s frame of sample %d", name, i), data: data, want: s, valid: true})
			}
		}
	}
	return ins
}

// foreignKey is a key the codec under test cannot know; a frame it seals
// must fail to open even if the codec uses the same key id.
var foreignKey = bytes.Repeat([]byte{0xA5}, 32)

// builtinCodecs returns the built-in codecs and wrappers for T whose frames
// Run feeds to the codec under test.
func builtinCodecs[T any]() map[string]codec.Codec[T] {
	compressed, err := codec.Compress(codec.JSON[T](), codec.CompressOptions{Threshold: 1})
	if err != nil {
		panic(err)
	}
	encrypted, err := codec.Encrypt(codec.MsgPack[T](), codec.EncryptOptions{Keys: []codec.EncryptionKey{{ID: 0, Secret: foreignKey}}})
	if err != nil {
		panic(err)
	}
	return map[string]codec.Codec[T]{
		"codec.JSON":             codec.JSON[T](),
		"codec.MsgPack":          codec.MsgPack[T](),
		"codec.Compress(JSON)":   compressed,
		"codec.Encrypt(MsgPack)": encrypted,
	}
}

func mustAppend[V any](c codec.Codec[V], v V) []byte {
	b, err := c.Append(nil, v)
	if err != nil {
		panic(err)
	}
	return b
}

// positions returns the indexes 0..n-1 when n <= 2*edge+between, else the
// first and last edge indexes and between indexes spread over the middle.
func positions(n, edge, between int) []int {
	if n <= 2*edge+between {
		ps := make([]int, n)
		for i := range ps {
			ps[i] = i
		}
		return ps
	}
	ps := make([]int, 0, 2*edge+between)
	for i := range edge {
		ps = append(ps, i)
	}
	for i := range between {
		ps = append(ps, edge+(n-2*edge)*i/between)
	}
	for i := n - edge; i < n; i++ {
		ps = append(ps, i)
	}
	return ps
}

func (h *harness[T]) truncated(t *testing.T) {
	for i, e := range h.encodings {
		for _, n := range positions(len(e), 128, 128) {
			h.expectDamageDetected(t, fmt.Sprintf("sample %d cut to %d of %d bytes", i, n, len(e)), bytes.Clone(e[:n]))
		}
	}
}

func (h *harness[T]) corrupted(t *testing.T) {
	for i, e := range h.encodings {
		for _, p := range positions(len(e), 16, 64) {
			for bit := range 8 {
				damaged := bytes.Clone(e)
				damaged[p] ^= 1 << bit
				h.expectDamageDetected(t, fmt.Sprintf("sample %d with bit %d of byte %d flipped", i, bit, p), damaged)
			}
		}
		h.expectDamageDetected(t, fmt.Sprintf("sample %d with a byte appended", i), append(bytes.Clone(e), 0))
		h.expectDamageDetected(t, fmt.Sprintf("sample %d twice over", i), append(bytes.Clone(e), e...))
	}
}

// concurrent runs Append and Decode from several goroutines at once; the
// race detector reports shared state, and every result is checked.
func (h *harness[T]) concurrent(t *testing.T) {
	const goroutines, rounds = 8, 10
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			var buf []byte
			for r := range rounds {
				i := (g + r) % len(h.samples)
				var err error
				buf, err = h.c.Append(buf[:0], h.samples[i])
				if err != nil {
					t.Errorf("goroutine %d: Append: %v", g, err)
					return
				}
				for _, data := range [][]byte{buf, h.encodings[i]} { // own and shared input
					v, err := h.c.Decode(data)
					if err != nil {
						t.Errorf("goroutine %d: Decode: %v", g, err)
						return
					}
					if !h.equal(h.samples[i], v) {
						t.Errorf("goroutine %d: sample %d decoded to %+v", g, i, v)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// equal reports whether a decoded value equals a sample, comparing byte
// slices and strings directly (go-cmp walks them element by element).
func (h *harness[T]) equal(want, got T) bool {
	switch w := any(want).(type) {
	case []byte:
		return bytes.Equal(w, any(got).([]byte))
	case string:
		return w == any(got).(string)
	}
	return cmp.Equal(want, got, h.cfg.cmpOptions...)
}

// show prints input in failure messages, shortened.
func show(data []byte) string {
	const limit = 48
	if data == nil {
		return "nil"
	}
	if len(data) > limit {
		return fmt.Sprintf("%x… (%d bytes)", data[:limit], len(data))
	}
	return fmt.Sprintf("%x", data)
}
