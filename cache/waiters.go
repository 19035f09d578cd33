package cache

import (
	"sync"
	"sync/atomic"
)

// leaseWaiters wakes the callers that wait for other callers' loads of
// keys (their leases are held elsewhere). They are woken by the
// invalidations Redis sends when a key's value or guard changes: the value
// stored, the lease released or expired, a write. The read that found the
// lease busy tracked both keys, so no polling is needed.
//
// One wake-up may watch many keys (the waiting keys of a FetchMany): it
// fires at the first change of any of them.
type leaseWaiters struct {
	waiting atomic.Int64 // len(keys), read by wake without the lock
	mu      sync.Mutex
	keys    map[string][]*wakeup
}

// wakeup is one wait for a change of some keys: ch is closed at the first.
type wakeup struct {
	ch    chan struct{}
	keys  []string
	fired bool // under leaseWaiters.mu
}

// watch returns a wake-up that fires at the next change of any of keys. A
// caller watches before the read that may find a lease busy, so that a
// change between that read and its wait is not missed; it unwatches when
// done waiting.
func (w *leaseWaiters) watch(keys []string) *wakeup {
	wk := &wakeup{ch: make(chan struct{}), keys: keys}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.keys == nil {
		w.keys = make(map[string][]*wakeup)
	}
	for _, key := range keys {
		w.keys[key] = append(w.keys[key], wk)
	}
	w.waiting.Store(int64(len(w.keys)))
	return wk
}

// unwatch forgets wk (nil: nothing to forget).
func (w *leaseWaiters) unwatch(wk *wakeup) {
	if wk == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, key := range wk.keys {
		list := w.keys[key]
		for i, other := range list {
			if other == wk {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(w.keys, key)
		} else {
			w.keys[key] = list
		}
	}
	w.waiting.Store(int64(len(w.keys)))
}

// wake fires the wake-ups watching key. It runs on rueidis's reader
// goroutine for every invalidation of the cache's keys, so it returns at
// once while nobody waits.
func (w *leaseWaiters) wake(key string) {
	if w.waiting.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wk := range w.keys[key] {
		wk.fire()
	}
}

// wakeAll fires every wake-up: invalidations may have been lost.
func (w *leaseWaiters) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, list := range w.keys {
		for _, wk := range list {
			wk.fire()
		}
	}
}

// fire closes wk's channel once, under leaseWaiters.mu.
func (wk *wakeup) fire() {
	if !wk.fired {
		wk.fired = true
		close(wk.ch)
	}
}
