package codec_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/codec/codectest"
)

// User is the value type of the hand-written codec below.
type User struct {
	Name string
	Tags []string
}

// myCodec is a codec an application could write itself: a magic prefix no
// other writer uses, the name and the tags as length-prefixed strings, and a
// CRC-32C of all of it, so that foreign, cut and damaged bytes are errors
// instead of wrong users. docs/codecs.md shows how to test it.
type myCodec struct{}

// myCodecMagic starts every encoding of myCodec.
const myCodecMagic = "usr1"

var myCodecCRC = crc32.MakeTable(crc32.Castagnoli)

func (myCodec) Append(dst []byte, u User) ([]byte, error) {
	start := len(dst)
	dst = append(dst, myCodecMagic...)
	for _, s := range append([]string{u.Name}, u.Tags...) {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], myCodecCRC)), nil
}

func (myCodec) Decode(data []byte) (User, error) {
	if !bytes.HasPrefix(data, []byte(myCodecMagic)) || len(data) < len(myCodecMagic)+4 {
		return User{}, fmt.Errorf("myCodec: not a user: %w", codec.ErrMismatch)
	}
	body, sum := data[:len(data)-4], data[len(data)-4:]
	if crc32.Checksum(body, myCodecCRC) != binary.LittleEndian.Uint32(sum) {
		return User{}, fmt.Errorf("myCodec: checksum mismatch: %w", codec.ErrCorrupt)
	}
	var fields []string
	for rest := body[len(myCodecMagic):]; len(rest) > 0; {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return User{}, fmt.Errorf("myCodec: bad string length: %w", codec.ErrCorrupt)
		}
		fields = append(fields, string(rest[k:k+int(n)])) // a copy: data is not retained
		rest = rest[k+int(n):]
	}
	if len(fields) == 0 {
		return User{}, fmt.Errorf("myCodec: no name: %w", codec.ErrCorrupt)
	}
	return User{Name: fields[0], Tags: fields[1:]}, nil
}

func TestMyCodec(t *testing.T) {
	codectest.Run(t, myCodec{}, []User{{}, {Name: "Ada", Tags: []string{"x"}}})
}
