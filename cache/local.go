package cache

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
)

// item is one cached value as a Cache sees it, decoded, with its expiry in
// unix nanoseconds of this process's clock. Items are immutable once built,
// except for the fields the local tier owns (referenced, slot), so a reader
// may use an item after the tier dropped it.
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

	referenced atomic.Bool // CLOCK's second-chance bit, set on hits
	slot       int         // index in the shard's ring, under the shard's lock
}

// itemOverhead approximates the bytes an item costs beyond its key and its
// encoded value: the item, the map slot and the ring slot.
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

// decodedTier is the local tier: a bounded map of decoded items, sharded by
// a hash of the key to spread lock contention. Hits take a shard's read lock
// and allocate nothing.
//
// Each shard holds at most maxEntries/shards items and maxBytes/shards of
// weight and evicts with CLOCK (second chance): a hit sets the item's
// referenced bit without the write lock; eviction sweeps a hand over the
// shard's ring, clearing set bits and evicting the first item whose bit is
// clear, or any expired item.
//
// Coherence: each shard has a generation that every invalidation and every
// own write of one of its keys increments. A reader notes the generation
// before it asks Redis and inserts its result only if the generation has not
// moved, so an invalidation that overtakes a read in flight is never undone
// by that read.
type decodedTier[T any] struct {
	seed   maphash.Seed
	mask   uint64
	shards []tierShard[T]
}

type tierShard[T any] struct {
	mu         sync.RWMutex
	hits       atomic.Uint64 // local hits, counted here to avoid one contended counter
	generation atomic.Uint64 // written under mu, read without it
	items      map[string]*item[T]
	ring       []*item[T]
	hand       int
	bytes      int64
	maxEntries int
	maxBytes   int64
	_          [64]byte // keeps neighbouring shards' locks off one cache line
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
		s.items = make(map[string]*item[T])
		s.maxEntries = max(1, maxEntries/n)
		s.maxBytes = max(1, maxBytes/int64(n))
	}
	return t
}

func (t *decodedTier[T]) shard(key string) *tierShard[T] {
	return &t.shards[maphash.String(t.seed, key)&t.mask]
}

// get returns the item under key, or nil, and its shard.
func (t *decodedTier[T]) get(key string) (*item[T], *tierShard[T]) {
	s := t.shard(key)
	s.mu.RLock()
	it := s.items[key]
	s.mu.RUnlock()
	if it != nil && !it.referenced.Load() {
		it.referenced.Store(true)
	}
	return it, s
}

// generation returns the generation of key's shard, to pass to insert.
func (t *decodedTier[T]) generation(key string) uint64 {
	return t.shard(key).generation.Load()
}

// insert stores it unless the generation of its shard moved since gen was
// read or the shard holds a newer version of the key, evicting as needed;
// now lets eviction prefer expired items.
func (t *decodedTier[T]) insert(it *item[T], gen uint64, now int64) bool {
	s := t.shard(it.key)
	if it.weight > s.maxBytes {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.generation.Load() != gen {
		return false
	}
	if old := s.items[it.key]; old != nil {
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
	s.items[it.key] = it
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
	delete(s.items, it.key)
	s.bytes -= it.weight
}

// invalidate drops key and moves its shard's generation, so that reads in
// flight do not insert what they read. It reports whether an item was dropped.
func (t *decodedTier[T]) invalidate(key string) bool {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation.Add(1)
	it := s.items[key]
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
		clear(s.items)
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
		s.mu.RLock()
		entries += len(s.ring)
		bytes += s.bytes
		s.mu.RUnlock()
		hits += s.hits.Load()
	}
	return entries, bytes, hits
}
