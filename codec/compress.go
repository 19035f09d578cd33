package codec

import (
	"slices"

	"github.com/klauspost/compress/s2"
)

// CompressOptions configures Compress. The zero value is valid and means
// the documented defaults.
type CompressOptions struct {
	// Threshold is the size in bytes of the inner codec's output from which
	// on it is compressed; smaller outputs are stored as the inner codec
	// wrote them. Zero means 1024 (smaller values rarely shrink enough to pay
	// for the work); 1 compresses everything. Negative is an error.
	Threshold int

	// MaxDecodedSize is the largest decompressed size Decode accepts, so a
	// hostile or damaged frame cannot make it allocate without bound. Decode
	// allocates the size a frame claims before decompressing, so a few
	// crafted bytes can cost up to this much memory per call: set it near
	// your largest value. Zero means 64 MiB. Negative is an error.
	MaxDecodedSize int
}

const (
	defaultCompressThreshold = 1024
	defaultMaxDecodedSize    = 64 << 20
)

// Compress returns a Codec that compresses inner's output with S2
// (github.com/klauspost/compress/s2, block format) when it is at least
// opts.Threshold bytes long and compression makes it smaller. Decode reads
// both compressed frames (format id 5) and inner's own output, so turning
// compression on or changing the threshold never turns stored values into
// misses.
//
// It returns an error naming the field when inner is nil or an option is
// out of range. The Codec is safe for concurrent use by multiple goroutines
// if inner is.
func Compress[T any](inner Codec[T], opts CompressOptions) (Codec[T], error) {
	if inner == nil {
		return nil, invalid("Compress needs an inner Codec, got nil")
	}
	if opts.Threshold < 0 {
		return nil, invalid("CompressOptions.Threshold must be >= 0, got %d", opts.Threshold)
	}
	if opts.MaxDecodedSize < 0 {
		return nil, invalid("CompressOptions.MaxDecodedSize must be >= 0, got %d", opts.MaxDecodedSize)
	}
	c := &compressCodec[T]{inner: inner, threshold: opts.Threshold, maxDecodedSize: opts.MaxDecodedSize}
	if c.threshold == 0 {
		c.threshold = defaultCompressThreshold
	}
	if c.maxDecodedSize == 0 {
		c.maxDecodedSize = defaultMaxDecodedSize
	}
	return c, nil
}

type compressCodec[T any] struct {
	inner          Codec[T]
	threshold      int
	maxDecodedSize int
}

func (c *compressCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	start := len(dst)
	dst, err := c.inner.Append(dst, v)
	if err != nil || len(dst)-start < c.threshold {
		return dst, err
	}
	p := getScratch()
	plain := append(*p, dst[start:]...)
	defer putScratch(p, plain)

	maxLen := s2.MaxEncodedLen(len(plain))
	if maxLen < 0 { // too large for an S2 block: store uncompressed
		return dst, nil
	}
	framed := slices.Grow(appendHeader(dst[:start], formatCompress), maxLen+checksumLen)
	body := start + headerLen
	compressed := s2.Encode(framed[body:body+maxLen], plain)
	if headerLen+len(compressed)+checksumLen >= len(plain) { // did not pay off
		return append(framed[:start], plain...), nil
	}
	return appendChecksum(framed[:body+len(compressed)], start), nil
}

func (c *compressCodec[T]) Decode(data []byte) (T, error) {
	if !isFormat(data, formatCompress) {
		return c.inner.Decode(data)
	}
	var zero T
	payload, err := openFrame(data, formatCompress)
	if err != nil {
		return zero, err
	}
	n, err := s2.DecodedLen(payload)
	if err != nil {
		return zero, corrupt(formatCompress, "%v", err)
	}
	if n > c.maxDecodedSize {
		return zero, corrupt(formatCompress, "decoded size %d exceeds MaxDecodedSize %d", n, c.maxDecodedSize)
	}
	p := getScratch()
	plain, err := s2.Decode(slices.Grow(*p, n)[:n], payload)
	if err != nil {
		putScratch(p, *p)
		return zero, corrupt(formatCompress, "%v", err)
	}
	defer putScratch(p, plain)
	return c.inner.Decode(plain)
}
