package counter

import "sync"

// readCache holds counter values a Buffered read from Redis with tracked
// reads (transport.Conn.DoTracked), until Redis reports that the key
// changed. It is its own map rather than rueidis's DoCache, because a
// DoCache entry can be older than this process's own completed write: the
// invalidation of a write may arrive after the write's reply (rueidis issue
// #534).
//
// A read in flight while its key is invalidated or written by this process
// must not insert what it read: it may predate the change. So every read
// registers before it is sent, and an invalidation or own write of the key
// marks the key's reads in flight stale; a stale read inserts nothing.
type readCache struct {
	max int

	mu     sync.Mutex
	values map[string]int64          // by the caller's key
	reads  map[string]*readsInFlight // by the caller's key
}

// readsInFlight counts the reads of one key in flight and says whether the
// key changed since the first of them began. A read that began after the
// change is also refused while older ones are in flight: only slower.
type readsInFlight struct {
	n     int
	stale bool
}

func newReadCache(max int) *readCache {
	return &readCache{max: max, values: make(map[string]int64), reads: make(map[string]*readsInFlight)}
}

// get returns the cached value of key.
func (c *readCache) get(key string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.values[key]
	return v, ok
}

// begin registers a read of key about to be sent; end must follow.
func (c *readCache) begin(key string) *readsInFlight {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reads[key]
	if r == nil {
		r = &readsInFlight{}
		c.reads[key] = r
	}
	r.n++
	return r
}

// end ends a read begun with begin, and caches v when the read succeeded
// (ok) and key did not change while it was in flight.
func (c *readCache) end(key string, r *readsInFlight, v int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok && !r.stale {
		if _, present := c.values[key]; !present && len(c.values) >= c.max {
			for k := range c.values { // evict an arbitrary entry
				delete(c.values, k)
				break
			}
		}
		c.values[key] = v
	}
	if r.n--; r.n == 0 {
		delete(c.reads, key)
	}
}

// Invalidate drops key: Redis reports that it changed, or this process
// wrote it.
func (c *readCache) Invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.values, key)
	if r := c.reads[key]; r != nil {
		r.stale = true
	}
}

// InvalidateAll drops everything: a connection was lost or the server
// flushed, so invalidations may have been missed.
func (c *readCache) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.values)
	for _, r := range c.reads {
		r.stale = true
	}
}
