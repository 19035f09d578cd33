package cache

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
)

// item is one cached value as a Cache sees it, decoded, with its expiry in
// unix nanoseconds of this process's clock. Items are immutable once built,
// except for the fields the local tier owns (referenced, slot, hash), so a
// reader may use an item after the tier dropped it.
type item[T any] struct {
	key         string
	value       T
	absent      bool   // a cached "not found"
	exact       bool   // hardAt is checked with the precise clock (Options.TTLFunc)
	softAt      int64  // end of the TTL: fresh before, stale after
	hardAt      int64  // end of the stale window: the key is gone from Redis
	refreshFrom int64  // XFetch cannot fire before this (see newItem)
	loadTime    int64  // Δ, nanoseconds
	weight      int64  // the local tier's cost of the item
	version     uint64 // of the stored value; grows with every write of the key
	mark        string // the key's write mark when it was read (see writeScript)

	referenced atomic.Bool // CLOCK's second-chance bit, set on hits
	slot       int         // index in the shard's ring, under the shard's lock
	hash       uint64      // of key, set by the tier before it publishes the item
}

// itemOverhead approximates the bytes an item costs beyond its key and its
// encoded value: the item, its slots in the shard's table and its ring slot.
const itemOverhead = 128

// xfetchHorizon bounds how far before the soft expiry XFetch may fire, in
// units of β·Δ: P(−ln(rand) > 40) = e⁻⁴⁰, so earlier checks are pointless and
// the hit path skips the logarithm.
const xfetchHorizon = 40

func newItem[T any](key string, value T, env envelope, hardAt int64, beta float64, encodedLen int) *item[T] {
	it := new(item[T])
	it.init(key, value, env, hardAt, beta, encodedLen)
	return it
}

// init sets the fields of a new item.
func (it *item[T]) init(key string, value T, env envelope, hardAt int64, beta float64, encodedLen int) {
	it.key, it.value, it.absent, it.exact = key, value, env.absent, env.exact
	it.hardAt, it.softAt = hardAt, hardAt-int64(env.stale)
	it.loadTime = int64(env.loadTime)
	it.weight = int64(len(key)+encodedLen) + itemOverhead
	it.refreshFrom = math.MaxInt64
	if beta > 0 && it.loadTime > 0 && !it.absent {
		it.refreshFrom = it.softAt - int64(xfetchHorizon*beta*float64(it.loadTime))
	}
}

// decodedTier is the local tier: a bounded set of decoded items, sharded by
// a hash of the key. A hit takes no lock and writes no memory shared with
// other goroutines (see itemTable and hitCounter), so it costs the same on
// one core and on many; writers take their shard's lock.
//
// Each shard holds at most maxEntries/shards items and maxBytes/shards of
// weight and evicts with CLOCK (second chance): a hit sets the item's
// referenced bit (a write only when the bit was clear); eviction sweeps a
// hand over the shard's ring, clearing set bits and evicting the first item
// whose bit is clear, or any expired item.
//
// Coherence: each shard has a generation that every invalidation and every
// own write of one of its keys increments. A reader notes the generation
// before it asks Redis and inserts its result only if the generation has not
// moved, so an invalidation that overtakes a read in flight is never undone
// by that read. A lookup that starts after an invalidation returned cannot
// find the dropped item: the table slot (or the table) it reads was replaced
// before the invalidation returned.
type decodedTier[T any] struct {
	seed   maphash.Seed
	mask   uint64
	shards []tierShard[T]
	hits   hitCounter
}

type tierShard[T any] struct {
	items atomic.Pointer[itemTable[T]] // read by hits without the lock
	_     [64]byte                     // keeps writers' fields off the line hits read

	mu         sync.Mutex
	generation atomic.Uint64 // written under mu, read without it
	ring       []*item[T]
	hand       int
	bytes      int64
	maxEntries int
	maxBytes   int64
	_          [64]byte // keeps the next shard's items off this line
}

// maxShards bounds the shard count; small tiers get fewer shards so that each
// keeps at least minShardEntries.
const (
	maxShards       = 64
	minShardEntries = 64
)

func newDecodedTier[T any](maxEntries int, maxBytes int64) *decodedTier[T] {
	n := maxShards
	for n > 1 && maxEntries/n < minShardEntries {
		n /= 2
	}
	t := &decodedTier[T]{seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]tierShard[T], n)}
	for i := range t.shards {
		s := &t.shards[i]
		s.items.Store(newItemTable[T](0))
		s.maxEntries = max(1, maxEntries/n)
		s.maxBytes = max(1, maxBytes/int64(n))
	}
	return t
}

// shard returns key's shard and the hash of key the shard's table uses.
func (t *decodedTier[T]) shard(key string) (*tierShard[T], uint64) {
	h := maphash.String(t.seed, key)
	return &t.shards[h&t.mask], h
}

// get returns the item under key, or nil, and the stripe of the hit counter
// the calling goroutine counts a hit in (see localHit).
func (t *decodedTier[T]) get(key string) (*item[T], *hitStripe) {
	s, h := t.shard(key)
	it := s.items.Load().find(key, h)
	if it != nil && !it.referenced.Load() {
		it.referenced.Store(true)
	}
	return it, t.hits.stripe()
}

// generation returns the generation of key's shard, to pass to insert.
func (t *decodedTier[T]) generation(key string) uint64 {
	s, _ := t.shard(key)
	return s.generation.Load()
}

// insert stores it unless the generation of its shard moved since gen was
// read or the shard holds a newer version of the key, evicting as needed;
// now lets eviction prefer expired items.
func (t *decodedTier[T]) insert(it *item[T], gen uint64, now int64) bool {
	s, h := t.shard(it.key)
	if it.weight > s.maxBytes {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.generation.Load() != gen {
		return false
	}
	it.hash = h
	if old := s.items.Load().find(it.key, h); old != nil {
		if old.version > it.version {
			return false // a reply that overtook this one read a newer value
		}
		s.removeAt(old.slot)
	}
	for len(s.ring) > 0 && (len(s.ring) >= s.maxEntries || s.bytes+it.weight > s.maxBytes) {
		s.evictOne(now)
	}
	it.slot = len(s.ring)
	s.ring = append(s.ring, it)
	s.add(it)
	s.bytes += it.weight
	return true
}

// evictOne advances the CLOCK hand until it evicts one item. Every step either
// evicts or clears a referenced bit, so it ends within two sweeps.
func (s *tierShard[T]) evictOne(now int64) {
	for {
		if s.hand >= len(s.ring) {
			s.hand = 0
		}
		victim := s.ring[s.hand]
		if victim.referenced.Load() && now < victim.hardAt {
			victim.referenced.Store(false)
			s.hand++
			continue
		}
		s.removeAt(s.hand)
		return
	}
}

// removeAt removes the item at ring index i, moving the last item into its slot.
func (s *tierShard[T]) removeAt(i int) {
	it := s.ring[i]
	last := len(s.ring) - 1
	s.ring[i] = s.ring[last]
	s.ring[i].slot = i
	s.ring[last] = nil
	s.ring = s.ring[:last]
	s.items.Load().remove(it)
	s.bytes -= it.weight
}

// invalidate drops key and moves its shard's generation, so that reads in
// flight do not insert what they read. It reports whether an item was dropped.
func (t *decodedTier[T]) invalidate(key string) bool {
	s, h := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation.Add(1)
	it := s.items.Load().find(key, h)
	if it != nil {
		s.removeAt(it.slot)
	}
	return it != nil
}

// invalidateAll drops every item and moves every generation.
func (t *decodedTier[T]) invalidateAll() {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		s.generation.Add(1)
		s.items.Store(newItemTable[T](0))
		clear(s.ring)
		s.ring = s.ring[:0]
		s.hand, s.bytes = 0, 0
		s.mu.Unlock()
	}
}

// usage returns the number of items, their weight and the hits counted.
func (t *decodedTier[T]) usage() (entries int, bytes int64, hits uint64) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		entries += len(s.ring)
		bytes += s.bytes
		s.mu.Unlock()
	}
	return entries, bytes, t.hits.sum()
}
