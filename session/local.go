package session

import (
	"hash/maphash"
	"sync"
	"time"
)

// localTier keeps the sessions this process read recently, parsed and
// verified, so that reading an unchanged session costs no round trip. Its
// reads go through typecache.Client.DoTracked, so Redis tells the process
// (Invalidate) when a key it read changes; entries are per key of Redis,
// which holds a route's sessions.
//
// Coherence: every shard has a generation, moved by every invalidation
// and by every write of this process (ownWrite, after its reply). A read
// notes the generation of its key's shard before it is sent, and its reply
// enters the tier only if the generation has not moved since: a reply that
// an invalidation or a write of this process may have overtaken is served
// to its caller but never kept. So after a write of this process returns,
// no read in this process serves what the write replaced, and other
// processes stop within the invalidation delay.
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
	mu     sync.Mutex
	gen    uint64
	closed bool                     // the Store was closed: keep nothing
	size   int                      // records held
	groups map[string][]localRecord // by Redis key
}

// localRecord is one session of a key, fresh until until (the earlier of
// the idle deadline and the next extension due, in the process's clock).
type localRecord struct {
	id    string
	rec   record
	until time.Time
}

func newLocalTier(maxSessions int) *localTier {
	t := &localTier{seed: maphash.MakeSeed(), perShard: max(1, maxSessions/localShards)}
	for i := range t.shards {
		t.shards[i].groups = make(map[string][]localRecord)
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
	for _, r := range sh.groups[key] {
		if r.id == id {
			return r.rec, now.Before(r.until)
		}
	}
	return record{}, false
}

// generation returns key's shard generation, to pass to insert.
func (t *localTier) generation(key string) uint64 {
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.gen
}

// insert keeps r under key unless the shard's generation has moved past
// gen. A full shard drops a key first (any: map order).
func (t *localTier) insert(key string, gen uint64, r localRecord) {
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen || sh.closed {
		return
	}
	group := sh.groups[key]
	for i := range group {
		if group[i].id == r.id {
			group[i] = r
			return
		}
	}
	for other, records := range sh.groups {
		if sh.size < t.perShard {
			break
		}
		sh.size -= len(records)
		delete(sh.groups, other)
	}
	sh.groups[key] = append(sh.groups[key], r)
	sh.size++
}

// Invalidate drops key and moves its shard's generation: Redis reported a
// change, or this process wrote the key.
func (t *localTier) Invalidate(key string) {
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.gen++
	sh.size -= len(sh.groups[key])
	delete(sh.groups, key)
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
		sh.gen++
		sh.size = 0
		sh.closed = sh.closed || closing
		clear(sh.groups)
		sh.mu.Unlock()
	}
}
