package codec

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpenFrame checks frame parsing for every format id: a frame opens
// only with the right magic, format, version and checksum, its payload is
// exactly the bytes between header and checksum, and writing that payload
// again gives the same frame.
func FuzzOpenFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for id := range len(formatNames) + 1 {
			fm := format(id)
			payload, err := openFrame(data, fm)
			if err != nil {
				if !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("openFrame(%x, %v): %v wraps no sentinel", data, fm, err)
				}
				continue
			}
			if !isFormat(data, fm) || data[2] != frameVersion {
				t.Fatalf("openFrame(%x, %v) accepted a wrong header", data, fm)
			}
			again := appendChecksum(append(appendHeader(nil, fm), payload...), 0)
			if !bytes.Equal(again, data) {
				t.Fatalf("openFrame(%x, %v) = payload %x, which frames as %x", data, fm, payload, again)
			}
		}
	})
}
