package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxMsgPackDepth bounds container nesting, as encoding/json does (10000).
const maxMsgPackDepth = 10000

var errMsgPackTruncated = errors.New("value runs past the end of the payload")

// checkMsgPack walks a MessagePack payload without decoding it and
// reports whether it holds exactly one well-formed value whose arrays and
// maps declare no more elements than the payload has bytes left, nested at
// most maxMsgPackDepth deep.
//
// msgpack/v5 (v5.4.1) sizes a slice from its declared length before
// reading the elements, and recurses once per nesting level, so a few
// crafted bytes could otherwise make Decode allocate gigabytes or overflow
// the stack: a crash, not an error.
func checkMsgPack(p []byte) error {
	var depth [16]int
	pending := append(depth[:0], 1) // pending[d]: values still to read at depth d
	i := 0
	for len(pending) > 0 {
		top := len(pending) - 1
		if pending[top] == 0 {
			pending = pending[:top]
			continue
		}
		pending[top]--
		if i >= len(p) {
			return errMsgPackTruncated
		}
		skip, elems, err := msgpackToken(p[i], p[i+1:])
		if err != nil {
			return err
		}
		i += 1 + skip
		switch {
		case i > len(p):
			return errMsgPackTruncated
		case elems > 0 && len(pending) == maxMsgPackDepth:
			return fmt.Errorf("nested deeper than %d", maxMsgPackDepth)
		case elems > 0:
			pending = append(pending, elems)
		}
	}
	if i != len(p) {
		return fmt.Errorf("%d bytes after the value", len(p)-i)
	}
	return nil
}

// MessagePack codes by their layout (see the MessagePack specification).
var (
	// msgpackDataLen: bytes after the code of fixed-size tokens.
	msgpackDataLen = [256]int8{
		0xca: 4, 0xcb: 8, // float 32, 64
		0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, // uint 8..64
		0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, // int 8..64
		0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17, // fixext: type byte + data
	}
	// msgpackLenWidth: width of the big-endian length after the code.
	msgpackLenWidth = [256]int8{
		0xc4: 1, 0xc5: 2, 0xc6: 4, // bin
		0xc7: 1, 0xc8: 2, 0xc9: 4, // ext
		0xd9: 1, 0xda: 2, 0xdb: 4, // str
		0xdc: 2, 0xdd: 4, // array
		0xde: 2, 0xdf: 4, // map
	}
)

// msgpackToken decodes the token that starts with code c, rest being the
// bytes after c. It returns how many bytes of rest the token occupies
// (length field and data, not container elements) and, for arrays and
// maps, how many values follow as elements.
//
// A 32-bit length (and a map's 2×length elements) can exceed what int holds
// on 32-bit platforms, where int(...) would turn it negative and move the
// cursor backwards. So lengths are computed in uint64 and checked against
// the bytes left before they become ints: every value returned fits in rest.
func msgpackToken(c byte, rest []byte) (skip, elems int, err error) {
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixints, nil, bools
		return 0, 0, nil
	case c <= 0x8f: // fixmap
		return 0, 2 * int(c&0x0f), nil
	case c <= 0x9f: // fixarray
		return 0, int(c & 0x0f), nil
	case c <= 0xbf: // fixstr
		return int(c & 0x1f), 0, nil
	case msgpackDataLen[c] > 0:
		return int(msgpackDataLen[c]), 0, nil
	}
	w := int(msgpackLenWidth[c])
	switch {
	case w == 0: // 0xc1, never used
		return 0, 0, fmt.Errorf("invalid code 0x%02x", c)
	case len(rest) < w:
		return 0, 0, errMsgPackTruncated
	}
	var n uint64
	switch w {
	case 1:
		n = uint64(rest[0])
	case 2:
		n = uint64(binary.BigEndian.Uint16(rest))
	default:
		n = uint64(binary.BigEndian.Uint32(rest))
	}
	left := uint64(len(rest) - w)
	switch c {
	case 0xdc, 0xdd: // array
	case 0xde, 0xdf: // map
		n *= 2
	case 0xc7, 0xc8, 0xc9: // ext: type byte + data
		n++
		fallthrough
	default: // str, bin: data
		if n > left {
			return 0, 0, errMsgPackTruncated
		}
		return w + int(n), 0, nil
	}
	if n > left { // every element takes at least one byte
		return 0, 0, fmt.Errorf("container declares %d elements in %d bytes", n, left)
	}
	return w, int(n), nil
}
