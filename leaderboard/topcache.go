package leaderboard

import "sync"

// topCache holds the last Top a Board read from Redis with a tracked read
// (transport.Conn.DoTracked), until Redis reports that the board changed.
// It is its own entry rather than rueidis's DoCache, because a DoCache entry
// can be older than this process's own completed write: the invalidation of
// a write may arrive after the write's reply (rueidis issue #534).
//
// A Top read in flight while the board changes must not store what it read:
// the generation moves with every invalidation and every write of this
// process (after its reply), and a read stores its entries only when the
// generation it noted before it was sent has not moved.
type topCache struct {
	mu      sync.Mutex
	gen     uint64
	key     string  // the sorted set the entries come from
	asked   int     // the n they were read for
	entries []Entry // nil when there is no entry
	stopped bool    // no invalidations arrive any more: cache nothing
}

// get returns a copy of the first n entries of the board key when the cache
// holds them, and the generation a read should note otherwise.
func (c *topCache) get(key string, n int) ([]Entry, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || c.key != key || n > c.asked && len(c.entries) == c.asked {
		return nil, c.gen, false
	}
	return append([]Entry(nil), c.entries[:min(n, len(c.entries))]...), c.gen, true
}

// put stores entries, read for n from key, when the generation is still gen.
func (c *topCache) put(gen uint64, key string, n int, entries []Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen && !c.stopped {
		c.key, c.asked, c.entries = key, n, append(make([]Entry, 0, len(entries)), entries...)
	}
}

// Invalidate drops the entry: Redis reports that a sorted set of the board
// changed, or this process wrote one.
func (c *topCache) Invalidate(string) { c.InvalidateAll() }

// InvalidateAll drops the entry: a connection was lost or the server was
// flushed, so invalidations may have been missed.
func (c *topCache) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = nil
}

// stop drops the entry for good: the Board's subscription to invalidations
// has ended.
func (c *topCache) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped, c.entries = true, nil
}
