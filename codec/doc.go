// Package codec turns typed values into bytes for Redis and back.
//
// A [Codec] appends the encoding of a value to a caller's buffer and decodes
// it again. typecache's cache and session packages take one; pick a
// built-in codec or write your own and check it with the codectest package.
//
//	c := codec.MsgPack[User]()
//	var buf []byte                      // reused across calls
//	buf, err := c.Append(buf[:0], user) // Append writes into buf
//	u, err := c.Decode(buf)             // u shares no memory with buf
//
// # Built-in codecs
//
//   - [JSON] (encoding/json) and [MsgPack] (github.com/vmihailenco/msgpack/v5)
//     for structs and other Go values.
//   - [String] and [Bytes] store their value's bytes as they are.
//   - [Compress] is a decorator that compresses an inner codec's output
//     above a size threshold.
//   - [Encrypt] is a decorator that seals an inner codec's output with
//     AES-GCM, with a key id in the frame so keys can be rotated.
//
// Decorators nest: Encrypt(Compress(MsgPack[T]())) compresses, then
// encrypts. Compress before encrypting (ciphertext does not compress), and
// keep in mind that compressing attacker-influenced data next to secrets
// leaks their length.
//
// # Frame
//
// Every built-in codec writes a frame, so bytes written by another codec,
// another version of a codec, or something that is not typecache are
// reported as errors, never decoded into a wrong value:
//
//	0xC1 | format id | version | payload | CRC-32C (4 bytes, little endian)
//
// 0xC1 can start no MessagePack value, JSON text or UTF-8 string. Format
// ids: 1 json, 2 msgpack, 3 string, 4 bytes, 5 compressed, 6 encrypted; the
// version is 1. The checksum covers header and payload: it detects every
// single-bit flip and every burst of up to 32 changed bits, and truncation
// or other damage with probability 1 − 2⁻³². Below its threshold [Compress] writes the inner frame as is;
// above it the payload is the compressed inner frame. The encrypted frame is
//
//	0xC1 | 6 | 1 | key id | nonce (12) | ciphertext of the inner frame | GCM tag (16)
//
// with the header, the key id and [EncryptOptions].AssociatedData
// authenticated.
//
// The frame identifies the format, not the Go type: JSON[A] may decode the
// bytes of JSON[B] when the two types share field names, as encoding/json
// would. Version the Redis key prefix when a stored type changes shape.
//
// # Errors
//
// Decode errors are [*Error] values naming the codec ("codec: json: ...")
// and wrap [ErrMismatch] (not this codec's bytes: treat it as a cache miss)
// or [ErrCorrupt] (this codec's bytes, damaged or failing authentication).
// On error Decode returns the zero value, never a partly decoded one.
package codec
