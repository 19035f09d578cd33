package codec_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/typecache/typecache/codec"
)

type Profile struct {
	Name  string   `json:"name" msgpack:"name"`
	Langs []string `json:"langs" msgpack:"langs"`
}

func ExampleMsgPack() {
	c := codec.MsgPack[Profile]()
	var buf []byte // reused across calls: Append writes into buf[:0]
	buf, err := c.Append(buf[:0], Profile{Name: "Ada", Langs: []string{"en", "fr"}})
	if err != nil {
		panic(err)
	}
	p, err := c.Decode(buf) // p shares no memory with buf
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", p)
	// Output: {Name:Ada Langs:[en fr]}
}

func ExampleJSON() {
	c := codec.JSON[Profile]()
	data, _ := c.Append(nil, Profile{Name: "Ada"})
	fmt.Printf("header % x, payload %s\n", data[:3], data[3:len(data)-4])
	// Output: header c1 01 01, payload {"name":"Ada","langs":null}
}

// Bytes written by another codec are a mismatch: treat them as a miss.
func ExampleErrMismatch() {
	data, _ := codec.JSON[Profile]().Append(nil, Profile{Name: "Ada"})

	_, err := codec.MsgPack[Profile]().Decode(data)
	fmt.Println(errors.Is(err, codec.ErrMismatch))
	fmt.Println(err)
	// Output:
	// true
	// codec: msgpack: bytes were not written by this codec: frame holds json
}

func ExampleCompress() {
	c, err := codec.Compress(codec.String(), codec.CompressOptions{Threshold: 256})
	if err != nil {
		panic(err)
	}
	small, _ := c.Append(nil, "short")
	large, _ := c.Append(nil, strings.Repeat("typecache ", 100))
	fmt.Println(len(small), "bytes: stored as the inner frame")
	// S2's exact output differs between platforms (assembly or pure Go)
	fmt.Println("1007 bytes compressed to under 50:", len(large) < 50)
	// Output:
	// 12 bytes: stored as the inner frame
	// 1007 bytes compressed to under 50: true
}

func ExampleCompress_badOption() {
	_, err := codec.Compress(codec.String(), codec.CompressOptions{Threshold: -1})
	fmt.Println(err)
	// Output: codec: invalid options: CompressOptions.Threshold must be >= 0, got -1
}

// Rotate keys by putting the new key first: Append seals with it, Decode
// still opens values sealed with the old one.
func ExampleEncrypt() {
	oldKey := codec.EncryptionKey{ID: 1, Secret: bytes.Repeat([]byte{1}, 32)} // use crypto/rand keys
	newKey := codec.EncryptionKey{ID: 2, Secret: bytes.Repeat([]byte{2}, 32)}

	before, _ := codec.Encrypt(codec.MsgPack[Profile](), codec.EncryptOptions{Keys: []codec.EncryptionKey{oldKey}})
	sealed, _ := before.Append(nil, Profile{Name: "Ada"})

	after, err := codec.Encrypt(codec.MsgPack[Profile](), codec.EncryptOptions{Keys: []codec.EncryptionKey{newKey, oldKey}})
	if err != nil {
		panic(err)
	}
	p, err := after.Decode(sealed)
	fmt.Println(p.Name, err)
	resealed, _ := after.Append(nil, p)
	fmt.Println("key id", sealed[3], "->", resealed[3])
	// Output:
	// Ada <nil>
	// key id 1 -> 2
}

func ExampleEncrypt_badKey() {
	_, err := codec.Encrypt(codec.String(), codec.EncryptOptions{
		Keys: []codec.EncryptionKey{{ID: 1, Secret: []byte("too short")}},
	})
	fmt.Println(err)
	// Output: codec: invalid options: EncryptOptions.Keys[0].Secret must be 16, 24 or 32 bytes, got 9
}

// Compress, then encrypt: the wrappers nest. Keys come from crypto/rand (or
// a secret store); the newest key is listed first.
func ExampleEncrypt_compressed() {
	newKey, oldKey := make([]byte, 32), make([]byte, 32)
	if _, err := rand.Read(newKey); err != nil {
		panic(err)
	}
	if _, err := rand.Read(oldKey); err != nil {
		panic(err)
	}

	compressed, err := codec.Compress(codec.MsgPack[Profile](), codec.CompressOptions{}) // threshold 1 KiB
	if err != nil {
		panic(err)
	}
	sealed, err := codec.Encrypt(compressed, codec.EncryptOptions{
		Keys:           []codec.EncryptionKey{{ID: 2, Secret: newKey}, {ID: 1, Secret: oldKey}},
		AssociatedData: []byte("myapp/profile/v1"),
	})
	if err != nil {
		panic(err)
	}
	data, _ := sealed.Append(nil, Profile{Name: "Ada", Langs: []string{strings.Repeat("x", 2000)}})
	p, err := sealed.Decode(data)
	fmt.Println(p.Name, len(p.Langs[0]), err, len(data) < 2000)
	// Output: Ada 2000 <nil> true
}
