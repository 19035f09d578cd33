package codec

import "sync"

// scratchBuffers holds byte slices the wrappers use for the bytes between
// their inner codec and the caller (the plaintext of a compressed or
// encrypted frame), so steady-state encoding and decoding reuse memory.
var scratchBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledScratch keeps one huge value from pinning its buffer in the pool.
const maxPooledScratch = 1 << 20

func getScratch() *[]byte { return scratchBuffers.Get().(*[]byte) }

// putScratch returns buf, whose backing array may have grown, to the pool.
func putScratch(p *[]byte, buf []byte) {
	if cap(buf) > maxPooledScratch {
		return
	}
	*p = buf[:0]
	scratchBuffers.Put(p)
}
