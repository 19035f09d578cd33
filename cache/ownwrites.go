package cache

import (
	"sync"
	"time"
)

// ownWrites remembers the keys this Cache wrote or deleted in the last
// window, for read-your-writes.
//
// Redis pushes the invalidation of a write after the write's reply, and
// rueidis sends writes and tracked reads over different connections, so for a
// moment after Set returns rueidis's client-side cache may still hold the old
// bytes (rueidis issue #534). A DoCache result that is a client-side cache hit
// for a key written in the window may predate the write, so the Cache reads
// it again from the server.
//
// Entries are not dropped when an invalidation for the key arrives: that
// invalidation may be an older one, overtaking the one of this write. They
// expire after window instead, which bounds both the memory and the extra
// reads. When more than maxKeys writes fall in one window, every key counts as
// recently written until the window has passed: still correct, only slower.
//
// The window is measured on the real clock, not the Cache's (which tests
// move): it is about how long an invalidation takes to arrive.
type ownWrites struct {
	window  int64 // nanoseconds
	maxKeys int
	now     func() int64

	mu       sync.Mutex
	deadline map[string]int64 // key → end of its window
	order    []ownWrite       // FIFO by deadline
	allUntil int64            // overflow: every key is suspect until then
}

type ownWrite struct {
	key      string
	deadline int64
}

// ownWriteWindow is far longer than an invalidation takes to arrive (well
// under a millisecond on a healthy connection), and short enough that the
// extra reads it may cause stay rare.
const (
	ownWriteWindow  = 3e9 // 3 s in nanoseconds
	ownWriteMaxKeys = 1 << 16
)

func newOwnWrites() *ownWrites {
	return &ownWrites{
		window: ownWriteWindow, maxKeys: ownWriteMaxKeys, deadline: make(map[string]int64),
		now: func() int64 { return time.Now().UnixNano() },
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
		w.allUntil = end
		clear(w.deadline)
		w.order = w.order[:0]
		return
	}
	w.deadline[key] = end
	w.order = append(w.order, ownWrite{key, end})
}

// recent reports whether key was written within the window.
func (w *ownWrites) recent(key string) bool {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if now < w.allUntil {
		return true
	}
	end, ok := w.deadline[key]
	return ok && now < end
}

func (w *ownWrites) expire(now int64) {
	n := 0
	for n < len(w.order) && w.order[n].deadline <= now {
		if w.deadline[w.order[n].key] == w.order[n].deadline {
			delete(w.deadline, w.order[n].key)
		}
		n++
	}
	if n > 0 {
		w.order = append(w.order[:0], w.order[n:]...)
	}
}
