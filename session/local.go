package session

import (
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// localTier keeps the sessions this process read or wrote recently,
// parsed and verified, so that reading an unchanged session costs no round
// trip. Its reads and its writes that keep what they wrote go through
// transport.Conn.DoTracked, so Redis tells the process (Invalidate) when
// a key it read changes; entries are per key of Redis, which holds a
// route's sessions.
//
// Coherence. Every exchange with Redis about a key that may enter the tier
// opens a watch on the key before it is sent (begin) and closes it after
// the reply (endRead or endWrite). A watch counts what happened to its key
// meanwhile: invalidations, writes of this process that ended, a flush.
//
//   - A read's reply is kept only if its watch saw nothing: a reply that an
//     invalidation or a write of this process may have overtaken is served
//     to its caller but never kept.
//   - Every write of this process drops its key when it ends (after its
//     reply), before it returns, and counts in every other open watch of
//     the key. So after a write returns, no read in this process serves
//     what the write replaced, and other processes stop within the
//     invalidation delay.
//   - A write may keep what it wrote (write-through), so that the next
//     request does not read it back. Its script reads the key, then writes
//     it, then reads it again, with Redis tracking the key for this
//     connection: Redis then sends this connection exactly one invalidation
//     of the key for the write itself, after the script's reply, and
//     before the invalidation of any later write. The record is kept only
//     if no other write of this process ended during the exchange and the
//     watch saw at most one invalidation: none means the write's own
//     invalidation is still to come, and the entry absorbs exactly one
//     (the next invalidation of the key is dropped instead of the entry);
//     one is the write's own (or an older write's, and the write's own
//     will drop the entry: a lost round trip, never a stale entry). More
//     than one, and nothing is kept. An absorbed invalidation counts in no
//     watch either: the change it reports is in what the tier holds, and
//     every exchange open then was sent after the write's reply (the next
//     write on the session sees only its own invalidation, however late
//     the previous one's arrives). Only when Redis notifies a connection of
//     its own writes (no NOLOOP, no BCAST), which the Store checks before it
//     lets a write keep anything. A create keeps nothing (see insert).
//
// With one connection per Redis node (rueidis's default: every tracked
// exchange of a standalone client goes to its first pipeline, a cluster
// client has one per node) the invalidations of a key arrive in the order
// Redis sent them, which the rules above count on. With several (a cluster
// client with ClientOption.PipelineMultiplex, DisableAutoPipelining), one
// connection's invalidation may arrive before an earlier one sent on
// another: the absorbed one may then be another write's, and an entry may
// outlive a later change until the write's own arrives, which Redis sent
// before that change's; so the delay stays bounded by the invalidation
// delay. Writes that keep nothing go on the client's direct connections,
// which track nothing: Redis reports them to the tracking connection as it
// reports another process's writes, in the order it ran them.
//
// Values: the tier keeps the record's bytes and each read decodes its own
// copy, so requests never share (and race on) one decoded value.
type localTier struct {
	seed     maphash.Seed
	perShard int
	shards   [localShards]localShard
}

const localShards = 64

type localShard struct {
	mu      sync.Mutex
	closed  bool                  // the Store was closed: keep nothing
	size    int                   // records held
	groups  map[string]localGroup // by Redis key
	watches map[string][]*watch   // open exchanges, by Redis key
}

// localGroup is what the tier holds of one Redis key.
type localGroup struct {
	records []localRecord
	// absorb is how many invalidations of the key are a write's own, still
	// to arrive: the next absorb invalidations leave the records alone.
	absorb int
}

// localRecord is one session of a key, fresh until until (the earlier of
// the idle deadline and the next extension due, in the process's clock).
type localRecord struct {
	id    string
	rec   record
	until time.Time
}

// A watch counts what happened to its key while an exchange about it was
// in flight.
type watch struct {
	invalidations int  // Redis reported a change
	writes        int  // writes of this process that ended
	flushed       bool // everything was dropped
}

func newLocalTier(maxSessions int) *localTier {
	t := &localTier{seed: maphash.MakeSeed(), perShard: max(1, maxSessions/localShards)}
	for i := range t.shards {
		t.shards[i].groups = make(map[string]localGroup)
		t.shards[i].watches = make(map[string][]*watch)
	}
	return t
}

func (t *localTier) shard(key string) *localShard {
	return &t.shards[maphash.String(t.seed, key)%localShards]
}

// get returns session id of key when the tier holds it and it is fresh at
// now.
func (t *localTier) get(key, id string, now time.Time) (record, bool) {
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, r := range sh.groups[key].records {
		if r.id == id {
			return r.rec, now.Before(r.until)
		}
	}
	return record{}, false
}

// begin opens a watch on key; call it before the exchange is sent, and
// endRead or endWrite after its reply. begin, endRead and endWrite do
// nothing on a nil tier (the Store has none).
func (t *localTier) begin(key string) *watch {
	if t == nil {
		return nil
	}
	w := &watch{}
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.watches[key] = append(sh.watches[key], w)
	return w
}

// close removes w from key's open watches.
func (sh *localShard) closeWatch(key string, w *watch) {
	open := sh.watches[key]
	if i := slices.Index(open, w); i >= 0 {
		open = slices.Delete(open, i, i+1)
	}
	if len(open) == 0 {
		delete(sh.watches, key)
	} else {
		sh.watches[key] = open
	}
}

// endRead closes w, an exchange that wrote nothing, and keeps r (when not
// nil) if nothing happened to key since w began.
func (t *localTier) endRead(key string, w *watch, r *localRecord) {
	if t == nil {
		return
	}
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.closeWatch(key, w)
	if r != nil && w.invalidations == 0 && w.writes == 0 && !w.flushed {
		sh.keep(key, *r, -1, t.perShard)
	}
}

// endWrite closes w (nil for a write that keeps nothing) after a write of
// key by this process, or an exchange that may have written it (a failed
// one may have been applied): it drops key and counts in every other open
// watch of key. It then keeps r (when not nil), what the write stored, as
// the type's comment says: only if no other write ended during w and w saw
// at most one invalidation.
func (t *localTier) endWrite(key string, w *watch, r *localRecord) {
	if t == nil {
		return
	}
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if w != nil {
		sh.closeWatch(key, w)
	}
	sh.drop(key)
	for _, other := range sh.watches[key] {
		other.writes++
	}
	if r != nil && w != nil && w.writes == 0 && !w.flushed && w.invalidations <= 1 {
		sh.keep(key, *r, 1-w.invalidations, t.perShard)
	}
}

// keep stores r under key unless the tier is closed; absorb >= 0 sets the
// group's count of the write's own invalidations still to come. A full
// shard drops a key first (any: map order).
func (sh *localShard) keep(key string, r localRecord, absorb, perShard int) {
	if sh.closed {
		return
	}
	group, held := sh.groups[key]
	if absorb >= 0 {
		group.absorb = absorb
	}
	for i := range group.records {
		if group.records[i].id == r.id {
			group.records[i] = r
			sh.groups[key] = group
			return
		}
	}
	if !held {
		for other, g := range sh.groups {
			if sh.size < perShard {
				break
			}
			sh.size -= len(g.records)
			delete(sh.groups, other)
		}
	}
	group.records = append(group.records, r)
	sh.groups[key] = group
	sh.size++
}

// drop forgets key.
func (sh *localShard) drop(key string) {
	sh.size -= len(sh.groups[key].records)
	delete(sh.groups, key)
}

// Invalidate reports a change of key by Redis. When it is the own
// invalidation of a write whose result the tier holds (absorb), the change
// is already in what the tier holds and in what any exchange sent since
// will find: nothing is dropped or counted. Otherwise every open watch of
// key counts it, and key is dropped.
func (t *localTier) Invalidate(key string) {
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if group, ok := sh.groups[key]; ok && group.absorb > 0 {
		group.absorb--
		sh.groups[key] = group
		return
	}
	for _, w := range sh.watches[key] {
		w.invalidations++
	}
	sh.drop(key)
}

// InvalidateAll drops everything: a connection was lost or the server was
// flushed, so invalidations may have been missed.
func (t *localTier) InvalidateAll() { t.dropAll(false) }

// close drops everything and keeps nothing from now on: no invalidation
// will arrive any more.
func (t *localTier) close() { t.dropAll(true) }

func (t *localTier) dropAll(closing bool) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, open := range sh.watches {
			for _, w := range open {
				w.flushed = true
			}
		}
		sh.size = 0
		sh.closed = sh.closed || closing
		clear(sh.groups)
		sh.mu.Unlock()
	}
}
