package cache

import (
	"sync"
	"sync/atomic"
)

// ownWrites remembers the keys this Cache wrote or deleted lately, for
// read-your-writes.
//
// Redis pushes the invalidation of a write after the write's reply, and
// rueidis sends writes and tracked reads over different connections, so for a
// moment after Set returns rueidis's client-side cache may still hold the old
// bytes (rueidis issue #534). A DoCache result that is a client-side cache hit
// for a key with a record may predate the write, so the Cache reads it again
// from the server.
//
// A record stops counting when a read proves that rueidis's entry for the key is not
// older than the write: a DoCache that was not a client-side cache hit and
// began after the record (its own request reached the server after the
// write), or a hit whose bytes equal the server's. It does not end when an
// invalidation of the key arrives, because that may be an older invalidation
// overtaking the write's. Records also expire after window, which bounds
// their memory; when more than maxKeys fall in one window, every key counts
// as written until the window has passed: still correct, only slower.
//
// The window is measured on the real (coarse) clock, not the Cache's, which
// tests move: it is about how long an invalidation takes to arrive.
//
// recent runs on every client-side cache hit, so it answers without the
// mutex while no record is unconfirmed, the usual state: a write's record
// is confirmed by the next read of the key.
type ownWrites struct {
	window  int64 // nanoseconds
	maxKeys int
	now     func() int64
	stamps  atomic.Uint64 // counts records, to order them against reads

	unconfirmed atomic.Int64 // records not confirmed, written under mu
	allUntil    atomic.Int64 // overflow: every key is suspect until then; written under mu

	mu      sync.Mutex
	records map[string]ownWrite
	order   []ownWrite // FIFO by end
}

type ownWrite struct {
	key       string
	end       int64  // end of the window
	stamp     uint64 // value of stamps when recorded
	confirmed bool   // a read proved rueidis's entry current
}

// ownWriteWindow is far longer than an invalidation takes to arrive (well
// under a millisecond on a healthy connection).
const (
	ownWriteWindow  = 3e9 // 3 s in nanoseconds
	ownWriteMaxKeys = 1 << 16
)

func newOwnWrites() *ownWrites {
	return &ownWrites{
		window: ownWriteWindow, maxKeys: ownWriteMaxKeys, records: make(map[string]ownWrite),
		now: wallClock.read,
	}
}

// add records a write of key that Redis has just acknowledged.
func (w *ownWrites) add(key string) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.expire(now)
	end := now + w.window
	if len(w.order) >= w.maxKeys {
		w.allUntil.Store(end)
		clear(w.records)
		w.unconfirmed.Store(0)
		w.order = w.order[:0]
		return
	}
	r := ownWrite{key: key, end: end, stamp: w.stamps.Add(1)}
	if old, ok := w.records[key]; !ok || old.confirmed {
		w.unconfirmed.Add(1)
	}
	w.records[key] = r
	w.order = append(w.order, r)
}

// stamp returns the current stamp; a read takes it before it starts.
func (w *ownWrites) stamp() uint64 { return w.stamps.Load() }

// recent reports whether key may have been written since rueidis cached it.
func (w *ownWrites) recent(key string) bool {
	now := w.now()
	if now < w.allUntil.Load() {
		return true
	}
	if w.unconfirmed.Load() == 0 {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.expire(now) // so that unconfirmed drops to 0, and the fast path returns, once writes stop
	r, ok := w.records[key]
	return ok && !r.confirmed && now < r.end
}

// writtenSince reports whether key was written after the stamp since was
// taken (within the window), confirmed or not.
func (w *ownWrites) writtenSince(key string, since uint64) bool {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.records[key]
	return now < w.allUntil.Load() || (ok && r.stamp > since && now < r.end)
}

// confirm marks key's record confirmed if it was made before the stamp
// since, taken by a read that proved rueidis's entry current.
func (w *ownWrites) confirm(key string, since uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r, ok := w.records[key]; ok && r.stamp <= since && !r.confirmed {
		r.confirmed = true
		w.records[key] = r
		w.unconfirmed.Add(-1)
	}
}

func (w *ownWrites) expire(now int64) {
	n := 0
	for n < len(w.order) && w.order[n].end <= now {
		if r := w.records[w.order[n].key]; r.stamp == w.order[n].stamp {
			delete(w.records, w.order[n].key)
			if !r.confirmed {
				w.unconfirmed.Add(-1)
			}
		}
		n++
	}
	if n > 0 {
		w.order = append(w.order[:0], w.order[n:]...)
	}
}
