package codec_test

import (
	"encoding/json"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/typecache/typecache/codec"
)

// BenchmarkCodec measures each codec on the ~1 KB user: Append into a
// reused buffer and Decode, with the encoded size as the "bytes" metric.
func BenchmarkCodec(b *testing.B) {
	u := sampleUser()
	codecs := []struct {
		name string
		c    codec.Codec[user]
	}{
		{"baseline-json.Marshal", unframed[user]{json.Marshal, json.Unmarshal}},
		{"baseline-msgpack.Marshal", unframed[user]{msgpack.Marshal, msgpack.Unmarshal}},
		{"json", codec.JSON[user]()},
		{"msgpack", codec.MsgPack[user]()},
		{"compress(json)", compressed(codec.JSON[user](), 1)},
		{"compress(msgpack)", compressed(codec.MsgPack[user](), 1)},
		{"encrypt(msgpack)", encrypted(codec.MsgPack[user]())},
		{"encrypt(compress(msgpack))", encrypted(compressed(codec.MsgPack[user](), 1))},
	}
	for _, bc := range codecs {
		b.Run(bc.name+"/append", func(b *testing.B) { benchAppend(b, bc.c, u) })
		b.Run(bc.name+"/decode", func(b *testing.B) { benchDecode(b, bc.c, u) })
	}
}

// unframed is the baseline: a library's Marshal and Unmarshal with no
// frame, no checksum and no buffer reuse (what a naive cache does).
type unframed[T any] struct {
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte, any) error
}

func (u unframed[T]) Append(dst []byte, v T) ([]byte, error) {
	b, err := u.marshal(v)
	return append(dst, b...), err
}

func (u unframed[T]) Decode(data []byte) (T, error) {
	var v T
	err := u.unmarshal(data, &v)
	return v, err
}

// BenchmarkRaw measures String and Bytes on a 1 KB value.
func BenchmarkRaw(b *testing.B) {
	s := sampleUser().Bio + sampleUser().Bio
	s = s[:1024]
	b.Run("string/append", func(b *testing.B) { benchAppend(b, codec.String(), s) })
	b.Run("string/decode", func(b *testing.B) { benchDecode(b, codec.String(), s) })
	b.Run("bytes/append", func(b *testing.B) { benchAppend(b, codec.Bytes(), []byte(s)) })
	b.Run("bytes/decode", func(b *testing.B) { benchDecode(b, codec.Bytes(), []byte(s)) })
}

func benchAppend[T any](b *testing.B, c codec.Codec[T], v T) {
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		var err error
		if buf, err = c.Append(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}

func benchDecode[T any](b *testing.B, c codec.Codec[T], v T) {
	b.ReportAllocs()
	data := mustEncode(c, v)
	for b.Loop() {
		if _, err := c.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data)), "bytes")
}
