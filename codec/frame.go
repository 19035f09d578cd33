package codec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// The frame every built-in codec writes (see the package documentation):
//
//	magic (0xC1) | format id | version | payload | CRC-32C of all before it (4 bytes, little endian)
//
// The encrypted wrapper replaces the checksum with its GCM tag.
const (
	// frameMagic is 0xC1 because no MessagePack value, no JSON text and no
	// UTF-8 string can start with it, so raw bytes of those are never taken
	// for a frame.
	frameMagic   byte = 0xC1
	frameVersion byte = 1
	headerLen         = 3
	checksumLen       = 4
)

// format is the frame's format id. The values are stored in Redis: never
// renumber them.
type format byte

const (
	formatJSON     format = 1
	formatMsgPack  format = 2
	formatString   format = 3
	formatBytes    format = 4
	formatCompress format = 5
	formatEncrypt  format = 6
)

var formatNames = [...]string{
	formatJSON:     "json",
	formatMsgPack:  "msgpack",
	formatString:   "string",
	formatBytes:    "bytes",
	formatCompress: "compress",
	formatEncrypt:  "encrypt",
}

// String returns the codec name used in errors.
func (f format) String() string {
	if int(f) < len(formatNames) && formatNames[f] != "" {
		return formatNames[f]
	}
	return fmt.Sprintf("format 0x%02x", byte(f))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendHeader appends the frame header of f to dst.
func appendHeader(dst []byte, f format) []byte {
	return append(dst, frameMagic, byte(f), frameVersion)
}

// appendChecksum appends the CRC-32C of dst[start:], which must hold a
// header and its payload.
func appendChecksum(dst []byte, start int) []byte {
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// checkHeader reports, as an ErrMismatch *Error, whether data does not
// start with the header of f.
func checkHeader(data []byte, f format) error {
	switch {
	case len(data) < headerLen || data[0] != frameMagic:
		return mismatch(f, "no typecache frame header")
	case format(data[1]) != f:
		return mismatch(f, "frame holds %v", format(data[1]))
	case data[2] != frameVersion:
		return mismatch(f, "frame version %d, this codec reads version %d", data[2], frameVersion)
	}
	return nil
}

// isFormat reports whether data claims to be a frame of format f, of any
// version.
func isFormat(data []byte, f format) bool {
	return len(data) >= 2 && data[0] == frameMagic && format(data[1]) == f
}

// openFrame checks the header and checksum of a frame of format f and
// returns its payload, which aliases data.
func openFrame(data []byte, f format) ([]byte, error) {
	if err := checkHeader(data, f); err != nil {
		return nil, err
	}
	if len(data) < headerLen+checksumLen {
		return nil, corrupt(f, "frame of %d bytes is shorter than its header and checksum", len(data))
	}
	end := len(data) - checksumLen
	if binary.LittleEndian.Uint32(data[end:]) != crc32.Checksum(data[:end], castagnoli) {
		return nil, corrupt(f, "checksum mismatch")
	}
	return data[headerLen:end], nil
}
