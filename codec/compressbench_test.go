package codec_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// BenchmarkS2VersusZstd is the measurement behind Compress using S2 (see
// docs/codecs.md): both algorithms on the JSON of one user (~1 KB), of one
// user with a 10 KB biography, and of a list of 16 users (~16 KB).
func BenchmarkS2VersusZstd(b *testing.B) {
	list := make([]user, 16)
	for i := range list {
		list[i] = sampleUser()
		list[i].ID = int64(i)
		list[i].Name = fmt.Sprint("user ", i*7919)
		list[i].Email = fmt.Sprintf("user%d@example.com", i*7919)
	}
	inputs := []struct {
		name string
		v    any
	}{{"user-1KB", sampleUser()}, {"user-10KB", userSamples()[2]}, {"list-16KB", list}}

	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
	if err != nil {
		b.Fatal(err)
	}
	zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	defer zdec.Close()
	algorithms := []struct {
		name   string
		encode func(dst, src []byte) []byte
		decode func(dst, src []byte) ([]byte, error)
	}{
		{"s2", s2.Encode, s2.Decode},
		{"zstd-fastest", func(dst, src []byte) []byte { return zenc.EncodeAll(src, dst) }, func(dst, src []byte) ([]byte, error) { return zdec.DecodeAll(src, dst) }},
	}
	for _, in := range inputs {
		plain, err := json.Marshal(in.v)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range algorithms {
			compressed := a.encode(nil, plain)
			b.Run(in.name+"/"+a.name+"/encode", func(b *testing.B) {
				b.ReportAllocs()
				dst := make([]byte, 0, 2*len(plain))
				for b.Loop() {
					dst = a.encode(dst[:0], plain)
				}
				b.ReportMetric(float64(len(compressed))/float64(len(plain)), "ratio")
			})
			b.Run(in.name+"/"+a.name+"/decode", func(b *testing.B) {
				b.ReportAllocs()
				dst := make([]byte, 0, 2*len(plain))
				for b.Loop() {
					if dst, err = a.decode(dst[:0], compressed); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(compressed))/float64(len(plain)), "ratio")
			})
		}
	}
}
