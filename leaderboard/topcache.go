package leaderboard

import (
	"sync/atomic"

	"github.com/typecache/typecache/internal/tier"
)

// topCache holds the last Top a Board read from Redis with a tracked read
// (transport.Conn.DoTracked), until Redis reports that its sorted set
// changed or this process wrote it: an internal/tier of one entry, keyed by
// the sorted set's Redis key. It is the tier rather than rueidis's DoCache,
// because a DoCache entry can be older than this process's own completed
// write: the invalidation of a write may arrive after the write's reply
// (rueidis issue #534).
type topCache struct {
	tier *tier.Tier[topEntries]
	// used says that the cache answered a Top since its last fill; wasted,
	// skip and run are fill's counts: misses with no hit since the last
	// fill, misses left to read untracked, and the last run's length.
	used              atomic.Bool
	wasted, skip, run atomic.Int32
}

const (
	// wastedFills is how many fills in a row must be dropped unhit before a
	// Board reads untracked.
	wastedFills = 2
	// firstRun and maxRun bound a run of untracked reads: the first is
	// firstRun long, each after a wasted probe twice the last, up to maxRun.
	firstRun, maxRun = 4, 64
)

// topEntries are the first entries of a sorted set, read for asked.
type topEntries struct {
	asked   int
	entries []Entry
}

func newTopCache() *topCache {
	return &topCache{tier: tier.New[topEntries](tier.Options{MaxEntries: 1})}
}

// get returns a copy of the first n entries of the sorted set key when the
// cache holds them.
func (c *topCache) get(key string, n int) ([]Entry, bool) {
	e := c.tier.Get(key)
	if e == nil || n > e.Value.asked && len(e.Value.entries) == e.Value.asked {
		return nil, false
	}
	if !c.used.Load() { // a load first: hits then share the line unwritten
		c.used.Store(true)
	}
	return append([]Entry(nil), e.Value.entries[:min(n, len(e.Value.entries))]...), true
}

// fill says whether a Top that missed reads Redis tracked, to fill the
// cache, or untracked on a direct connection. A tracked read costs a lone
// caller about twice an untracked one (rueidis's tracking connection wakes
// a writer and a reader goroutine for it), which pays only if the fill is
// hit before a write drops it. On a board where every Top follows a write,
// none is: once wastedFills fills in a row were dropped unhit, Top reads
// untracked for a run of firstRun misses, then probes with one tracked
// fill; each probe dropped unhit doubles the next run, up to maxRun, and a
// hit ends the runs. The reads of a run must drop the cache (see
// readUntracked).
func (c *topCache) fill() bool {
	if c.skip.Load() > 0 && c.skip.Add(-1) >= 0 {
		return false
	}
	if c.used.Load() {
		c.wasted.Store(0)
		c.run.Store(0)
		return true
	}
	// wasted counts the misses that found no hit since the last fill: the
	// first miss of a Board, then one per fill dropped unhit.
	if c.wasted.Add(1) <= wastedFills {
		return true
	}
	c.wasted.Store(wastedFills - 1) // the miss after the run probes
	run := min(max(2*c.run.Load(), firstRun), maxRun)
	c.run.Store(run)
	c.skip.Store(run - 1) // this miss is the run's first read
	return false
}

// put keeps entries, read for n from key by the read whose ticket is tk.
func (c *topCache) put(tk tier.Ticket, key string, n int, entries []Entry) {
	e := c.tier.NewEntry(key, tier.Meta{Weight: 1})
	e.Value = topEntries{asked: n, entries: append(make([]Entry, 0, len(entries)), entries...)}
	c.used.Store(false)
	c.tier.Fill(tk, e)
}

// readUntracked ends an untracked read of key, once it returned: its reply
// and the invalidations of the writes it saw come on different connections,
// so a tracked read sent before it, of an older board, could otherwise
// still fill the cache after it and serve its caller an older board than
// it read (see tier.Tier.ReadUntracked).
func (c *topCache) readUntracked(key string) { c.tier.ReadUntracked(key) }

// Invalidate drops the entries of key: Redis reports that it changed.
func (c *topCache) Invalidate(key string) { c.tier.Invalidate(key) }

// InvalidateAll drops the entries: a connection was lost or the server was
// flushed, so invalidations may have been missed.
func (c *topCache) InvalidateAll() { c.tier.InvalidateAll() }
