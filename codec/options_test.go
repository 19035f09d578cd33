package codec_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/typecache/typecache/codec"
)

func TestConstructorErrors(t *testing.T) {
	tests := []struct {
		name    string
		build   func() (codec.Codec[string], error)
		wantErr string
	}{
		{"compress nil inner", func() (codec.Codec[string], error) {
			return codec.Compress[string](nil, codec.CompressOptions{})
		}, "codec: invalid options: Compress needs an inner Codec, got nil"},
		{"negative threshold", func() (codec.Codec[string], error) {
			return codec.Compress(codec.String(), codec.CompressOptions{Threshold: -1})
		}, "codec: invalid options: CompressOptions.Threshold must be >= 0, got -1"},
		{"negative max decoded size", func() (codec.Codec[string], error) {
			return codec.Compress(codec.String(), codec.CompressOptions{MaxDecodedSize: -5})
		}, "codec: invalid options: CompressOptions.MaxDecodedSize must be >= 0, got -5"},
		{"encrypt nil inner", func() (codec.Codec[string], error) {
			return codec.Encrypt[string](nil, codec.EncryptOptions{Keys: []codec.EncryptionKey{{Secret: key16}}})
		}, "codec: invalid options: Encrypt needs an inner Codec, got nil"},
		{"no keys", func() (codec.Codec[string], error) {
			return codec.Encrypt(codec.String(), codec.EncryptOptions{})
		}, "codec: invalid options: EncryptOptions.Keys is empty; give at least one key"},
		{"key of the wrong size", func() (codec.Codec[string], error) {
			return codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: []codec.EncryptionKey{{ID: 1, Secret: key16}, {ID: 2, Secret: key16[:15]}}})
		}, "codec: invalid options: EncryptOptions.Keys[1].Secret must be 16, 24 or 32 bytes, got 15"},
		{"empty key", func() (codec.Codec[string], error) {
			return codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: []codec.EncryptionKey{{ID: 1}}})
		}, "codec: invalid options: EncryptOptions.Keys[0].Secret must be 16, 24 or 32 bytes, got 0"},
		{"duplicate key id", func() (codec.Codec[string], error) {
			return codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: []codec.EncryptionKey{{ID: 7, Secret: key16}, {ID: 3, Secret: key24}, {ID: 7, Secret: key32}}})
		}, "codec: invalid options: EncryptOptions.Keys[2].ID 7 repeats Keys[0].ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.build()
			if !errors.Is(err, codec.ErrInvalidOptions) || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %q wrapping ErrInvalidOptions", err, tt.wantErr)
			}
			if c != nil {
				t.Fatalf("codec = %v, want nil with an error", c)
			}
		})
	}
}

func TestErrorNamesCodec(t *testing.T) {
	s, _ := codec.String().Append(nil, "hi")
	tests := []struct {
		name    string
		decode  func([]byte) error
		data    []byte
		wantIs  error
		wantMsg string
	}{
		{"json reads a string frame", decodeErr(codec.JSON[int]()), s, codec.ErrMismatch,
			"codec: json: bytes were not written by this codec: frame holds string"},
		{"msgpack reads raw bytes", decodeErr(codec.MsgPack[int]()), []byte("42"), codec.ErrMismatch,
			"codec: msgpack: bytes were not written by this codec: no typecache frame header"},
		{"string reads a damaged frame", decodeErr(codec.String()), flipLastBit(s), codec.ErrCorrupt,
			"codec: string: corrupt data: checksum mismatch"},
		{"json reads another type", decodeErr(codec.JSON[int]()), mustEncode(codec.JSON[user](), sampleUser()), codec.ErrMismatch,
			"codec: json: bytes were not written by this codec: payload does not decode as int: json: cannot unmarshal object into Go value of type int"},
		{"future version", decodeErr(codec.String()), []byte{0xC1, 3, 2, 'h', 'i', 0, 0, 0, 0}, codec.ErrMismatch,
			"codec: string: bytes were not written by this codec: frame version 2, this codec reads version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode(tt.data)
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want it to wrap %v", err, tt.wantIs)
			}
			var ce *codec.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %T, want *codec.Error", err)
			}
			if err.Error() != tt.wantMsg {
				t.Fatalf("err = %q\nwant  %q", err, tt.wantMsg)
			}
		})
	}
}

func TestEncodeErrorNamesCodec(t *testing.T) {
	_, err := codec.JSON[chan int]().Append(nil, make(chan int))
	if err == nil || !strings.HasPrefix(err.Error(), "codec: json: json: unsupported type") {
		t.Fatalf("err = %v, want a codec: json: error", err)
	}
	dst := []byte("keep")
	out, err := codec.MsgPack[func()]().Append(dst, func() {})
	if err == nil || !strings.HasPrefix(err.Error(), "codec: msgpack: ") {
		t.Fatalf("err = %v, want a codec: msgpack: error", err)
	}
	if string(out) != "keep" {
		t.Fatalf("Append returned %q on error, want dst unchanged", out)
	}
}

func decodeErr[T any](c codec.Codec[T]) func([]byte) error {
	return func(b []byte) error {
		_, err := c.Decode(b)
		return err
	}
}

func mustEncode[T any](c codec.Codec[T], v T) []byte {
	b, err := c.Append(nil, v)
	if err != nil {
		panic(err)
	}
	return b
}

func flipLastBit(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-1] ^= 1
	return b
}

func TestCompressThreshold(t *testing.T) {
	const threshold = 100
	c := compressed(codec.String(), threshold)
	tests := []struct {
		name           string
		value          string
		wantCompressed bool
	}{
		{"below threshold: the inner frame as is", strings.Repeat("a", threshold-8), false},
		{"at threshold: compressed", strings.Repeat("a", threshold-7), true},
		{"incompressible: the inner frame as is", string(randomBytes(t, 4*threshold)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := mustEncode(codec.String(), tt.value)
			got := mustEncode(c, tt.value)
			if tt.wantCompressed == bytes.Equal(got, plain) {
				t.Fatalf("compressed = %v, want %v (plain %d bytes, got %d)", !bytes.Equal(got, plain), tt.wantCompressed, len(plain), len(got))
			}
			if tt.wantCompressed && len(got) >= len(plain) {
				t.Fatalf("compressed to %d bytes from %d", len(got), len(plain))
			}
			if v, err := c.Decode(got); err != nil || v != tt.value {
				t.Fatalf("Decode = %.20q, %v", v, err)
			}
		})
	}
}

// TestCompressReadsUncompressedFrames: turning compression on keeps values
// stored without it readable.
func TestCompressReadsUncompressedFrames(t *testing.T) {
	u := sampleUser()
	old := mustEncode(codec.MsgPack[user](), u)
	got, err := compressed(codec.MsgPack[user](), 1).Decode(old)
	if err != nil || got.ID != u.ID {
		t.Fatalf("Decode = %v, %v", got.ID, err)
	}
}

func TestCompressMaxDecodedSize(t *testing.T) {
	big := strings.Repeat("z", 1<<20)
	data := mustEncode(compressed(codec.String(), 1), big)
	small := must(codec.Compress(codec.String(), codec.CompressOptions{MaxDecodedSize: 1 << 19}))
	if _, err := small.Decode(data); !errors.Is(err, codec.ErrCorrupt) || !strings.Contains(err.Error(), "exceeds MaxDecodedSize 524288") {
		t.Fatalf("err = %v, want ErrCorrupt over MaxDecodedSize", err)
	}
	if v, err := compressed(codec.String(), 1).Decode(data); err != nil || v != big {
		t.Fatalf("default MaxDecodedSize: err = %v", err)
	}
}

func TestEncryptKeyRotation(t *testing.T) {
	oldKey := codec.EncryptionKey{ID: 1, Secret: key16}
	newKey := codec.EncryptionKey{ID: 2, Secret: key32}
	before := must(codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: []codec.EncryptionKey{oldKey}}))
	during := must(codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: []codec.EncryptionKey{newKey, oldKey}}))
	after := must(codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: []codec.EncryptionKey{newKey}}))

	sealedOld := mustEncode(before, "sealed with the old key")
	sealedNew := mustEncode(during, "sealed with the new key")
	if sealedOld[3] != 1 || sealedNew[3] != 2 {
		t.Fatalf("key ids in frames = %d, %d; want 1, 2", sealedOld[3], sealedNew[3])
	}
	tests := []struct {
		name   string
		c      codec.Codec[string]
		data   []byte
		want   string
		wantIs error
	}{
		{"new codec reads old key", during, sealedOld, "sealed with the old key", nil},
		{"new codec reads new key", during, sealedNew, "sealed with the new key", nil},
		{"old codec reads new key: unknown id", before, sealedNew, "", codec.ErrMismatch},
		{"retired key: unknown id", after, sealedOld, "", codec.ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.c.Decode(tt.data)
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("err = %v, want %v", err, tt.wantIs)
				}
				return
			}
			if err != nil || v != tt.want {
				t.Fatalf("Decode = %q, %v; want %q", v, err, tt.want)
			}
		})
	}
}

func TestEncryptBindsFrameToKeyAndPurpose(t *testing.T) {
	keys := []codec.EncryptionKey{{ID: 1, Secret: key16}}
	sessions := must(codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: keys, AssociatedData: []byte("session")}))
	carts := must(codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: keys, AssociatedData: []byte("cart")}))
	otherSecret := must(codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: []codec.EncryptionKey{{ID: 1, Secret: bytes.Repeat([]byte{9}, 16)}}, AssociatedData: []byte("session")}))
	data := mustEncode(sessions, "user=42")
	for name, c := range map[string]codec.Codec[string]{"other associated data": carts, "other secret, same id": otherSecret} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Decode(data); !errors.Is(err, codec.ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
	if a, b := mustEncode(sessions, "same"), mustEncode(sessions, "same"); bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are equal: the nonce is not random")
	}
}

func TestEncryptDoesNotKeepCallerSlices(t *testing.T) {
	secret := bytes.Clone(key16)
	aad := []byte("purpose")
	c := must(codec.Encrypt(codec.String(), codec.EncryptOptions{Keys: []codec.EncryptionKey{{ID: 1, Secret: secret}}, AssociatedData: aad}))
	data := mustEncode(c, "v")
	secret[0] ^= 0xFF
	aad[0] ^= 0xFF
	if v, err := c.Decode(data); err != nil || v != "v" {
		t.Fatalf("after the caller changed its slices: Decode = %q, %v", v, err)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMsgPackHostilePayload: a valid frame around a few crafted bytes must
// be an error, not a multi-gigabyte allocation or a stack overflow inside
// msgpack.
func TestMsgPackHostilePayload(t *testing.T) {
	tests := []struct {
		name    string
		decode  func([]byte) error
		payload []byte
	}{
		{"array32 of 4 billion ints", decodeErr(codec.MsgPack[[]int]()), []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 1}},
		{"array32 of 4 billion structs", decodeErr(codec.MsgPack[[]user]()), []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x80}},
		{"a million nested arrays", decodeErr(codec.MsgPack[any]()), append(bytes.Repeat([]byte{0x91}, 1<<20), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.decode(frameForTest(2, tt.payload)); !errors.Is(err, codec.ErrMismatch) {
				t.Fatalf("err = %v, want ErrMismatch", err)
			}
		})
	}
}
