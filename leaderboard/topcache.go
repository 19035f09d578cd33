package leaderboard

import "github.com/typecache/typecache/internal/tier"

// topCache holds the last Top a Board read from Redis with a tracked read
// (transport.Conn.DoTracked), until Redis reports that its sorted set
// changed or this process wrote it: an internal/tier of one entry, keyed by
// the sorted set's Redis key. It is the tier rather than rueidis's DoCache,
// because a DoCache entry can be older than this process's own completed
// write: the invalidation of a write may arrive after the write's reply
// (rueidis issue #534).
type topCache struct{ tier *tier.Tier[topEntries] }

// topEntries are the first entries of a sorted set, read for asked.
type topEntries struct {
	asked   int
	entries []Entry
}

func newTopCache() *topCache {
	return &topCache{tier.New[topEntries](tier.Options{MaxEntries: 1})}
}

// get returns a copy of the first n entries of the sorted set key when the
// cache holds them.
func (c *topCache) get(key string, n int) ([]Entry, bool) {
	e := c.tier.Get(key)
	if e == nil || n > e.Value.asked && len(e.Value.entries) == e.Value.asked {
		return nil, false
	}
	return append([]Entry(nil), e.Value.entries[:min(n, len(e.Value.entries))]...), true
}

// put keeps entries, read for n from key by the read whose ticket is tk.
func (c *topCache) put(tk tier.Ticket, key string, n int, entries []Entry) {
	e := c.tier.NewEntry(key, tier.Meta{Weight: 1})
	e.Value = topEntries{asked: n, entries: append(make([]Entry, 0, len(entries)), entries...)}
	c.tier.Fill(tk, e)
}

// Invalidate drops the entries of key: Redis reports that it changed.
func (c *topCache) Invalidate(key string) { c.tier.Invalidate(key) }

// InvalidateAll drops the entries: a connection was lost or the server was
// flushed, so invalidations may have been missed.
func (c *topCache) InvalidateAll() { c.tier.InvalidateAll() }
