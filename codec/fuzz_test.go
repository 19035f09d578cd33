package codec_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/typecache/typecache/codec"
)

// Each fuzz target decodes the fuzzer's bytes as they are and, where a
// checksum would stop almost every mutation early, also wrapped in a valid
// frame of the codec's format id, so the decoders behind the checksum (JSON,
// MessagePack, S2) see arbitrary payloads too. Seeds, made from real
// encodings, are in testdata/fuzz (see TestFuzzSeeds).

func FuzzJSON(f *testing.F) {
	c := codec.JSON[user]()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, c, data)
		checkDecode(t, c, frameForTest(1, data))
	})
}

func FuzzMsgPack(f *testing.F) {
	c := codec.MsgPack[user]()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, c, data)
		checkDecode(t, c, frameForTest(2, data))
	})
}

func FuzzString(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, codec.String(), data)
		v := checkDecode(t, codec.String(), frameForTest(3, data))
		if v != string(data) {
			t.Fatalf("framed %q decoded to %q", data, v)
		}
	})
}

func FuzzBytes(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, codec.Bytes(), data)
		v := checkDecode(t, codec.Bytes(), frameForTest(4, data))
		if string(v) != string(data) {
			t.Fatalf("framed %q decoded to %q", data, v)
		}
	})
}

func FuzzCompress(f *testing.F) {
	// A small MaxDecodedSize: a frame's claimed size is allocated before
	// decompressing, and 64 MiB per input would leave little time to fuzz.
	c := must(codec.Compress(codec.MsgPack[user](), codec.CompressOptions{Threshold: 1, MaxDecodedSize: 1 << 20}))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, c, data)
		checkDecode(t, c, frameForTest(5, data))
	})
}

// FuzzEncrypt feeds raw bytes only: a fuzzer cannot forge a GCM tag, so
// this covers the frame, key id and length handling in front of it.
func FuzzEncrypt(f *testing.F) {
	c := encrypted(compressed(codec.MsgPack[user](), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, c, data)
	})
}

var fuzzCompare = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateNaNs()}

// checkDecode decodes data and checks the contract: an error wraps a codec
// sentinel and comes with the zero value; a decoded value encodes and
// decodes to itself.
func checkDecode[T any](t *testing.T, c codec.Codec[T], data []byte) T {
	t.Helper()
	v, err := c.Decode(data)
	if err != nil {
		if !errors.Is(err, codec.ErrMismatch) && !errors.Is(err, codec.ErrCorrupt) {
			t.Fatalf("Decode(%x): error %v wraps no sentinel", data, err)
		}
		if !reflect.ValueOf(&v).Elem().IsZero() {
			t.Fatalf("Decode(%x): %+v with error %v", data, v, err)
		}
		return v
	}
	again, err := c.Decode(mustEncode(c, v))
	if err != nil {
		t.Fatalf("Decode(%x) = %+v, but its encoding does not decode: %v", data, v, err)
	}
	if diff := cmp.Diff(v, again, fuzzCompare...); diff != "" {
		t.Fatalf("Decode(%x) does not round-trip (-first +second):\n%s", data, diff)
	}
	return v
}

// frameForTest builds a frame from the documented layout (independently of
// the package's own code): 0xC1, format id, version 1, payload, CRC-32C.
func frameForTest(id byte, payload []byte) []byte {
	b := append([]byte{0xC1, id, 1}, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}
