package codec

import (
	"encoding/json"
	"sync"
)

// JSON returns a Codec that encodes values with encoding/json inside a
// typecache frame (format id 1). Field names, tags and Marshaler methods
// work as in encoding/json; fields the frame's JSON has but T lacks are
// ignored, as json.Unmarshal does.
//
// The Codec is stateless apart from pooled encoders and is safe for
// concurrent use by multiple goroutines.
func JSON[T any]() Codec[T] { return jsonCodec[T]{} }

type jsonCodec[T any] struct{}

// jsonEncoder drops the newline json.Encoder writes after every value.
type jsonEncoder struct {
	w   *appendWriter
	enc *json.Encoder
}

func (e jsonEncoder) Encode(v any) error {
	err := e.enc.Encode(v)
	if err == nil {
		e.w.buf = e.w.buf[:len(e.w.buf)-1]
	}
	return err
}

var jsonEncoders = sync.Pool{New: func() any {
	e := &streamEncoder{}
	e.enc = jsonEncoder{w: &e.w, enc: json.NewEncoder(&e.w)}
	return e
}}

func (jsonCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	return appendFrame(dst, formatJSON, &jsonEncoders, v)
}

func (jsonCodec[T]) Decode(data []byte) (T, error) {
	var v T
	payload, err := openFrame(data, formatJSON)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		var zero T
		return zero, mismatch(formatJSON, "payload does not decode as %T: %v", zero, err)
	}
	return v, nil
}
