package cache

import (
	"sync"
	"sync/atomic"
)

// leaseWaiters wakes the callers that wait for another caller's load of a
// key (its lease is held elsewhere). They are woken by the invalidations
// Redis sends when the key's value or guard changes: the value stored, the
// lease released or expired, a write. The read that found the lease busy
// tracked both keys, so no polling is needed.
type leaseWaiters struct {
	waiting atomic.Int64 // len(keys), read by wake without the lock
	mu      sync.Mutex
	keys    map[string]chan struct{}
}

// watch returns a channel closed at the next change of key. A caller
// watches before the read that may find the lease busy, so that a change
// between that read and its wait is not missed.
func (w *leaseWaiters) watch(key string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.keys[key]; ok {
		return ch
	}
	if w.keys == nil {
		w.keys = make(map[string]chan struct{})
	}
	ch := make(chan struct{})
	w.keys[key] = ch
	w.waiting.Store(int64(len(w.keys)))
	return ch
}

// wake wakes the watchers of key. It runs on rueidis's reader goroutine for
// every invalidation of the cache's keys, so it returns at once while
// nobody waits.
func (w *leaseWaiters) wake(key string) {
	if w.waiting.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.keys[key]; ok {
		close(ch)
		delete(w.keys, key)
		w.waiting.Store(int64(len(w.keys)))
	}
}

// wakeAll wakes every watcher: invalidations may have been lost.
func (w *leaseWaiters) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, ch := range w.keys {
		close(ch)
		delete(w.keys, key)
	}
	w.waiting.Store(0)
}
