package redistest

import (
	"testing"
	"time"
)

// Recorder is a typecache.Subscriber that forwards what it is told to
// channels without blocking, as the Subscriber contract demands.
type Recorder struct {
	keys  chan string
	flush chan struct{}
}

// NewRecorder returns a Recorder that keeps up to 64 keys and 64 flushes
// not yet waited for; it drops what comes beyond.
func NewRecorder() *Recorder {
	return &Recorder{keys: make(chan string, 64), flush: make(chan struct{}, 64)}
}

// Invalidate notes key.
func (r *Recorder) Invalidate(key string) {
	select {
	case r.keys <- key:
	default:
	}
}

// InvalidateAll notes a flush.
func (r *Recorder) InvalidateAll() {
	select {
	case r.flush <- struct{}{}:
	default:
	}
}

// NextKey returns the next key noted, failing t after 5 s without one.
func (r *Recorder) NextKey(t testing.TB) string {
	t.Helper()
	select {
	case k := <-r.keys:
		return k
	case <-time.After(5 * time.Second):
		t.Fatal("no invalidation within 5s")
		return ""
	}
}

// WaitFlush waits for the next flush noted, failing t after 5 s.
func (r *Recorder) WaitFlush(t testing.TB) {
	t.Helper()
	select {
	case <-r.flush:
	case <-time.After(5 * time.Second):
		t.Fatal("no flush-all within 5s")
	}
}

// Keys returns the channel of the keys noted, for a test that checks
// that none came.
func (r *Recorder) Keys() <-chan string { return r.keys }

// Flushes returns the channel of the flushes noted.
func (r *Recorder) Flushes() <-chan struct{} { return r.flush }
