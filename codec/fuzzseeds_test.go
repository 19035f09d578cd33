package codec_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/typecache/typecache/codec"
)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz from real encodings")

// fuzzSeed is one checked-in seed. A valid seed is a whole encoding its
// target's codec must decode; the others are payloads and damaged frames
// that give the fuzzer a start on the decoders.
type fuzzSeed struct {
	name  string
	data  []byte
	valid bool
}

type fuzzSeedSet struct {
	target string
	decode func([]byte) error // nil: no codec to check valid seeds with
	seeds  []fuzzSeed
}

func fuzzSeedSets() []fuzzSeedSet {
	u := sampleUser()
	rawJSON, _ := json.Marshal(u)
	rawMsgPack, _ := msgpack.Marshal(u)
	jsonFrame := mustEncode(codec.JSON[user](), u)
	msgpackFrame := mustEncode(codec.MsgPack[user](), u)
	comp := compressed(codec.MsgPack[user](), 1)
	compFrame := mustEncode(comp, u)
	enc := encrypted(compressed(codec.MsgPack[user](), 1))
	encFrame := mustEncode(enc, u)
	unknownKey := append([]byte{}, encFrame...)
	unknownKey[3] = 99
	return []fuzzSeedSet{
		{"FuzzJSON", decodeErr(codec.JSON[user]()), []fuzzSeed{
			{"valid-user", jsonFrame, true},
			{"valid-zero", mustEncode(codec.JSON[user](), user{}), true},
			{"payload-user", rawJSON, false},
			{"truncated-user", jsonFrame[:len(jsonFrame)/2], false},
		}},
		{"FuzzMsgPack", decodeErr(codec.MsgPack[user]()), []fuzzSeed{
			{"valid-user", msgpackFrame, true},
			{"valid-zero", mustEncode(codec.MsgPack[user](), user{}), true},
			{"payload-user", rawMsgPack, false},
			{"json-frame", jsonFrame, false},
		}},
		{"FuzzString", decodeErr(codec.String()), []fuzzSeed{
			{"valid-hello", mustEncode(codec.String(), "héllo"), true},
			{"valid-empty", mustEncode(codec.String(), ""), true},
			{"payload-hello", []byte("héllo"), false},
		}},
		{"FuzzBytes", decodeErr(codec.Bytes()), []fuzzSeed{
			{"valid-bytes", mustEncode(codec.Bytes(), []byte{0, 1, 0xC1, 0xFF}), true},
			{"valid-empty", mustEncode(codec.Bytes(), nil), true},
			{"string-frame", mustEncode(codec.String(), "x"), false},
		}},
		{"FuzzCompress", decodeErr(comp), []fuzzSeed{
			{"valid-compressed-user", compFrame, true},
			{"valid-uncompressed-user", msgpackFrame, true},
			{"payload-s2-block", s2.Encode(nil, msgpackFrame), false},
			{"truncated", compFrame[:len(compFrame)-5], false},
		}},
		{"FuzzEncrypt", decodeErr(enc), []fuzzSeed{
			{"valid-user", encFrame, true},
			{"valid-zero", mustEncode(enc, user{}), true},
			{"unknown-key-id", unknownKey, false},
			{"header-only", encFrame[:4], false},
		}},
		{"FuzzCheckMsgPack", nil, []fuzzSeed{
			{"user", rawMsgPack, false},
			{"nested-arrays", []byte{0x92, 0x91, 0x01, 0x90}, false},
			{"array32-too-long", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0}, false},
		}},
		{"FuzzOpenFrame", nil, []fuzzSeed{
			{"json-frame", mustEncode(codec.JSON[int](), 7), false},
			{"string-frame", mustEncode(codec.String(), "frame"), false},
			{"compressed-frame", compFrame, false},
			{"header-only", []byte{0xC1, 1, 1}, false},
		}},
	}
}

// TestFuzzSeeds checks that testdata/fuzz holds the seeds of every fuzz
// target and that the valid ones still decode (a frame format change that
// forgets the seeds fails here). With -update-fuzz-seeds it rewrites them.
func TestFuzzSeeds(t *testing.T) {
	for _, set := range fuzzSeedSets() {
		dir := filepath.Join("testdata", "fuzz", set.target)
		for _, seed := range set.seeds {
			path := filepath.Join(dir, seed.name)
			if *updateFuzzSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", seed.data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data := readFuzzSeed(t, path)
			if seed.valid && set.decode != nil {
				if err := set.decode(data); err != nil {
					t.Errorf("%s: valid seed does not decode: %v", path, err)
				}
			}
		}
	}
}

func readFuzzSeed(t *testing.T, path string) []byte {
	t.Helper()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestFuzzSeeds -update-fuzz-seeds writes the seeds)", err)
	}
	body, ok := strings.CutPrefix(string(file), "go test fuzz v1\n[]byte(")
	body, ok2 := strings.CutSuffix(body, ")\n")
	if !ok || !ok2 {
		t.Fatalf("%s: not a one-[]byte fuzz corpus file", path)
	}
	data, err := strconv.Unquote(body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(data)
}
