package codec

import (
	"bytes"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgPack returns a Codec that encodes values with
// github.com/vmihailenco/msgpack/v5 inside a typecache frame (format id 2).
// Struct fields use `msgpack` tags as that package defines them. It is
// usually smaller and faster than JSON; time.Time values decode in the
// local time zone (the instant is kept). Maps are written in Go's iteration
// order, so equal values may encode to different bytes (JSON sorts map
// keys). Before decoding, the payload's structure is checked, so crafted
// lengths or nesting return an error instead of exhausting memory or stack.
//
// The Codec is stateless apart from pooled encoders and decoders and is safe
// for concurrent use by multiple goroutines.
func MsgPack[T any]() Codec[T] { return msgpackCodec[T]{} }

type msgpackCodec[T any] struct{}

type msgpackDecoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var (
	msgpackEncoders = sync.Pool{New: func() any {
		e := &streamEncoder{}
		e.enc = msgpack.NewEncoder(&e.w)
		return e
	}}
	msgpackDecoders = sync.Pool{New: func() any {
		d := &msgpackDecoder{}
		d.dec = msgpack.NewDecoder(&d.r)
		return d
	}}
)

func (msgpackCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	return appendFrame(dst, formatMsgPack, &msgpackEncoders, v)
}

func (msgpackCodec[T]) Decode(data []byte) (T, error) {
	var v T
	payload, err := openFrame(data, formatMsgPack)
	if err != nil {
		return v, err
	}
	if err := checkMsgPack(payload); err != nil {
		return v, mismatch(formatMsgPack, "payload is not one MessagePack value: %v", err)
	}
	d := msgpackDecoders.Get().(*msgpackDecoder)
	d.r.Reset(payload)
	d.dec.ResetReader(&d.r)
	err = d.dec.Decode(&v)
	d.r.Reset(nil) // the pool must not keep the caller's buffer
	msgpackDecoders.Put(d)
	if err != nil {
		var zero T
		return zero, mismatch(formatMsgPack, "payload does not decode as %T: %v", zero, err)
	}
	return v, nil
}
