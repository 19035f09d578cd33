package codec

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestCheckMsgPack(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		wantErr string
	}{
		{"int", []byte{0x05}, ""},
		{"array of three", []byte{0x93, 1, 2, 3}, ""},
		{"map", []byte{0x81, 0xa1, 'k', 0xc0}, ""},
		{"str8", []byte{0xd9, 2, 'h', 'i'}, ""},
		{"fixext8 (time)", append([]byte{0xd7, 0xff}, make([]byte, 8)...), ""},
		{"ext8", []byte{0xc7, 1, 5, 0}, ""},
		{"empty", nil, "value runs past the end"},
		{"array32 of 4 billion", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0}, "container declares 4294967295 elements in 1 bytes"},
		{"map16 longer than payload", []byte{0xde, 0, 3, 1, 1}, "container declares 6 elements in 2 bytes"},
		{"str32 past the end", []byte{0xdb, 0, 0, 1, 0, 'x'}, "value runs past the end"},
		// 32-bit lengths at and above 2^31: negative as an int on 32-bit
		// platforms, where they used to move the cursor backwards and panic
		{"str32 of 2^31 bytes", []byte{0xdb, 0x80, 0, 0, 0, 'x'}, "value runs past the end"},
		{"bin32 of 2^32-1 bytes", []byte{0xc6, 0xff, 0xff, 0xff, 0xff, 'x'}, "value runs past the end"},
		{"ext32 of 2^32-1 bytes", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 1, 'x'}, "value runs past the end"},
		{"str32 of 2^31 bytes, then a value", []byte{0x92, 0xdb, 0x80, 0, 0, 0, 0x01}, "value runs past the end"},
		{"str32 of 2^32-6 bytes, then a value", []byte{0x92, 0xdb, 0xff, 0xff, 0xff, 0xfa, 0x01, 0x01}, "value runs past the end"},
		{"map32 of 2^31 entries", []byte{0xdf, 0x80, 0, 0, 0, 0}, "container declares 4294967296 elements in 1 bytes"},
		{"array32 of 2^31", []byte{0xdd, 0x80, 0, 0, 0, 0}, "container declares 2147483648 elements in 1 bytes"},
		{"map32 of 2^31 entries, alone", []byte{0xdf, 0x80, 0, 0, 0}, "container declares 4294967296 elements in 0 bytes"},
		{"unused code", []byte{0xc1}, "invalid code 0xc1"},
		{"trailing bytes", []byte{0x01, 0x02}, "1 bytes after the value"},
		{"array short of elements", []byte{0x92, 0x91, 1}, "value runs past the end"},
		{"nested too deep", append(bytes.Repeat([]byte{0x91}, maxMsgPackDepth+1), 0), "nested deeper than 10000"},
		{"nested at the limit", append(bytes.Repeat([]byte{0x91}, maxMsgPackDepth-1), 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkMsgPack(tt.payload)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("checkMsgPack = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestMsgPackDecodeHugeMap: a frame declaring a map of 2^31 entries in five
// bytes is an error, not an allocation of gigabytes or a crash, on 32-bit
// platforms too (where 2×2^31 elements wrapped to 0 and the payload passed
// the check).
func TestMsgPackDecodeHugeMap(t *testing.T) {
	frame := appendChecksum(append(appendHeader(nil, formatMsgPack), 0xdf, 0x80, 0, 0, 0), 0)
	if v, err := MsgPack[map[string]int]().Decode(frame); err == nil {
		t.Fatalf("Decode = %d entries, nil error; want an error", len(v))
	}
}

// FuzzCheckMsgPack checks the validator against msgpack's own parser: what
// it accepts, msgpack can skip as exactly one value; what msgpack skips, it
// accepts unless nested too deep.
func FuzzCheckMsgPack(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		err := checkMsgPack(p)
		r := bytes.NewReader(p)
		skipErr := msgpack.NewDecoder(r).Skip()
		parsed := skipErr == nil && r.Len() == 0
		if err == nil && !parsed {
			t.Fatalf("checkMsgPack accepted %x; msgpack: %v, %d bytes left", p, skipErr, r.Len())
		}
		if err != nil && parsed && !strings.Contains(err.Error(), "nested deeper") {
			t.Fatalf("checkMsgPack(%x) = %v; msgpack parses it", p, err)
		}
	})
}

// BenchmarkFrameOverhead measures what the frame adds to decoding 1 KB: the
// checksum, and for MessagePack the structure check.
func BenchmarkFrameOverhead(b *testing.B) {
	value := map[string]any{
		"name": "Ada Lovelace", "email": "ada.lovelace@analytical-engine.example.com",
		"bio": strings.Repeat("Mathematician and writer. ", 20), "age": 36, "score": 99.5,
		"tags":  []string{"math", "poetry", "engines", "notes", "bernoulli", "london", "science", "history"},
		"prefs": map[string]string{"theme": "dark", "lang": "en-GB", "tz": "Europe/London", "font": "serif"},
	}
	payload, err := msgpack.Marshal(value)
	if err != nil {
		b.Fatal(err)
	}
	frame := appendChecksum(append(appendHeader(nil, formatMsgPack), payload...), 0)
	b.Run("checksum", func(b *testing.B) {
		for b.Loop() {
			if _, err := openFrame(frame, formatMsgPack); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(frame)), "bytes")
	})
	b.Run("check-msgpack", func(b *testing.B) {
		for b.Loop() {
			if err := checkMsgPack(payload); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(payload)), "bytes")
	})
}
