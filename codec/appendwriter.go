package codec

import "sync"

// appendWriter is an io.Writer (plus the byte and string writers msgpack
// looks for) that appends to buf, so streaming encoders write straight into
// the caller's slice.
type appendWriter struct{ buf []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.buf = append(w.buf, c)
	return nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.buf = append(w.buf, s...)
	return len(s), nil
}

// streamEncoder is a reusable encoder bound to its appendWriter. Pools of
// them let JSON and MsgPack encode into the caller's slice without
// allocating an encoder per call.
type streamEncoder struct {
	w   appendWriter
	enc interface{ Encode(v any) error }
}

// appendFrame appends a frame of format f holding v, encoded by an encoder
// from pool, to dst.
func appendFrame(dst []byte, f format, pool *sync.Pool, v any) ([]byte, error) {
	start := len(dst)
	e := pool.Get().(*streamEncoder)
	e.w.buf = appendHeader(dst, f)
	err := e.enc.Encode(v)
	out := e.w.buf
	e.w.buf = nil // the pool must not keep the caller's buffer
	pool.Put(e)
	if err != nil {
		return dst[:start], encodeError(f, err)
	}
	return appendChecksum(out, start), nil
}
