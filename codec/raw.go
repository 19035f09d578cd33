package codec

// String returns a Codec that stores a string's bytes as they are inside a
// typecache frame (format id 3).
//
// The Codec is stateless and safe for concurrent use by multiple goroutines.
func String() Codec[string] { return rawCodec[string]{format: formatString} }

// Bytes returns a Codec that stores a byte slice as it is inside a typecache
// frame (format id 4). Decode returns a new slice (never nil on success, and
// never aliasing its input); nil and empty slices both decode to an empty
// slice.
//
// The Codec is stateless and safe for concurrent use by multiple goroutines.
func Bytes() Codec[[]byte] { return rawCodec[[]byte]{format: formatBytes} }

type rawCodec[T string | []byte] struct{ format format }

func (c rawCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	start := len(dst)
	dst = append(appendHeader(dst, c.format), v...)
	return appendChecksum(dst, start), nil
}

func (c rawCodec[T]) Decode(data []byte) (T, error) {
	var v T
	payload, err := openFrame(data, c.format)
	if err != nil {
		return v, err
	}
	// Copy: callers reuse data for the next read.
	switch p := any(&v).(type) {
	case *string:
		*p = string(payload)
	case *[]byte:
		*p = append([]byte{}, payload...)
	}
	return v, nil
}
