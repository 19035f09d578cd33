package codec_test

import (
	"bytes"
	"testing"

	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/codec/codectest"
)

// Test keys: fixed so fuzz seeds and examples are reproducible. Never use
// constant keys outside tests.
var (
	key16 = bytes.Repeat([]byte{0x16}, 16)
	key24 = bytes.Repeat([]byte{0x24}, 24)
	key32 = bytes.Repeat([]byte{0x32}, 32)
)

func must[T any](c codec.Codec[T], err error) codec.Codec[T] {
	if err != nil {
		panic(err)
	}
	return c
}

func encrypted[T any](inner codec.Codec[T]) codec.Codec[T] {
	return must(codec.Encrypt(inner, codec.EncryptOptions{
		Keys:           []codec.EncryptionKey{{ID: 2, Secret: key32}, {ID: 1, Secret: key16}},
		AssociatedData: []byte("codec tests"),
	}))
}

func compressed[T any](inner codec.Codec[T], threshold int) codec.Codec[T] {
	return must(codec.Compress(inner, codec.CompressOptions{Threshold: threshold}))
}

// userCodecs are every built-in codec and wrapper combination for user.
func userCodecs() map[string]codec.Codec[user] {
	return map[string]codec.Codec[user]{
		"json":                       codec.JSON[user](),
		"msgpack":                    codec.MsgPack[user](),
		"compress(json)":             compressed(codec.JSON[user](), 0),
		"compress(msgpack)/all":      compressed(codec.MsgPack[user](), 1),
		"encrypt(json)":              encrypted(codec.JSON[user]()),
		"encrypt(msgpack)":           encrypted(codec.MsgPack[user]()),
		"encrypt(compress(json))":    encrypted(compressed(codec.JSON[user](), 1)),
		"compress(encrypt(msgpack))": compressed(encrypted(codec.MsgPack[user]()), 1),
	}
}

// runConformance runs codectest.Run on each codec in parallel subtests.
func runConformance[T any](t *testing.T, codecs map[string]codec.Codec[T], samples []T) {
	for name, c := range codecs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			codectest.Run(t, c, samples)
		})
	}
}

func TestConformance(t *testing.T) {
	runConformance(t, userCodecs(), userSamples())
	runConformance(t, map[string]codec.Codec[string]{
		"string":                    codec.String(),
		"compress(string)":          compressed(codec.String(), 1),
		"encrypt(string)":           encrypted(codec.String()),
		"encrypt(compress(string))": encrypted(compressed(codec.String(), 64)),
	}, stringSamples())
	runConformance(t, map[string]codec.Codec[[]byte]{
		"bytes":                    codec.Bytes(),
		"compress(bytes)":          compressed(codec.Bytes(), 1),
		"encrypt(bytes)":           encrypted(codec.Bytes()),
		"encrypt(compress(bytes))": encrypted(compressed(codec.Bytes(), 64)),
	}, bytesSamples())
}
