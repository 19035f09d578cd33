package cache

import (
	"math"

	"github.com/typecache/typecache/internal/tier"
)

// item is one cached value as a Cache sees it, decoded, with its expiry in
// unix nanoseconds of this process's clock. Items are immutable once built,
// so a reader may use an item after the local tier dropped it.
type item[T any] struct {
	key         string
	value       T
	absent      bool   // a cached "not found"
	exact       bool   // hardAt is checked with the precise clock (Options.TTLFunc)
	softAt      int64  // end of the TTL: fresh before, stale after
	hardAt      int64  // end of the stale window: the key is gone from Redis
	refreshFrom int64  // XFetch cannot fire before this (see init)
	loadTime    int64  // Δ, nanoseconds
	version     uint64 // the value's version: its key's write mark when it was read (see scripts.go)
}

// itemOverhead approximates the bytes an item costs beyond its key and its
// encoded value: the item in its tier entry, its slots in the tier's table
// and its share of the tier's memory of evicted keys.
const itemOverhead = 192

// xfetchHorizon bounds how far before the soft expiry XFetch may fire, in
// units of β·Δ: P(−ln(rand) > 40) = e⁻⁴⁰, so earlier checks are pointless and
// the hit path skips the logarithm.
const xfetchHorizon = 40

// init sets the fields of a new item.
func (it *item[T]) init(key string, value T, version uint64, env envelope, hardAt int64, beta float64) {
	it.key, it.value, it.version, it.absent, it.exact = key, value, version, env.absent, env.exact
	it.hardAt, it.softAt = hardAt, hardAt-int64(env.stale)
	it.loadTime = int64(env.loadTime)
	it.refreshFrom = math.MaxInt64
	if beta > 0 && it.loadTime > 0 && !it.absent {
		it.refreshFrom = it.softAt - int64(xfetchHorizon*beta*float64(it.loadTime))
	}
}

// decodedTier is the local tier: decoded items in an internal/tier, which
// holds the coherence rule (a read keeps its reply only if no invalidation
// or own write of its key, and no flush, was counted while it was in
// flight), the bounds (entries, and bytes as the items' weight) and the
// eviction. A hit takes no lock and writes no memory shared with other
// goroutines, including its count (see hitCounter), so it costs the same
// on one core and on many.
//
// A key enters the tier on its second remote read, not its first (see
// admit): a first read goes untracked, so keys read once cost neither a
// tracked read nor Redis's memory for tracking them.
type decodedTier[T any] struct {
	items *tier.Tier[item[T]]
	door  *tier.Doorkeeper // nil: every read is admitted (Options.AdmitFirstRead)
	hits  hitCounter
}

func newDecodedTier[T any](maxEntries int, maxBytes int64, admitFirstRead bool) *decodedTier[T] {
	t := &decodedTier[T]{items: tier.New[item[T]](tier.Options{MaxEntries: maxEntries, MaxWeight: maxBytes})}
	if !admitFirstRead {
		t.door = tier.NewDoorkeeper(maxEntries)
	}
	return t
}

// admit reports whether a remote read of key may enter the tier: whether
// key was read remotely a short while ago (tier.Doorkeeper), or the tier
// holds it (a stale entry's refresh, an early refresh of a hot key, which
// the doorkeeper may have forgotten: it sees remote reads only, and an
// untracked read would drop the entry), or always with
// Options.AdmitFirstRead. It notes this read. A read it refuses goes
// untracked and ends with readUntracked.
func (t *decodedTier[T]) admit(key string) bool {
	if t.door == nil {
		return true
	}
	seen := t.door.Seen(key)
	return seen || t.items.Holds(key)
}

// readUntracked ends an untracked read of key after its reply, before the
// value read is served: no tracked read in flight may then keep an older
// value (tier.Tier.ReadUntracked).
func (t *decodedTier[T]) readUntracked(key string) { t.items.ReadUntracked(key) }

// get returns the item under key, or nil, and the stripe of the hit counter
// the calling goroutine counts a hit in (see localHit).
func (t *decodedTier[T]) get(key string) (*item[T], *hitStripe) {
	e := t.items.Get(key)
	if e == nil {
		return nil, nil
	}
	return &e.Value, t.hits.stripe()
}

// ticket returns key's ticket, to take before a read is sent and pass to
// insert with its reply.
func (t *decodedTier[T]) ticket(key string) tier.Ticket { return t.items.Begin(key) }

// newEntry returns an entry for an item of key, for insert: the caller
// inits its Value. Its weight counts the key and the encoded value, so
// that the byte bound follows what Redis holds.
func (t *decodedTier[T]) newEntry(key string, version uint64, hardAt int64, encodedLen int) *tier.Entry[item[T]] {
	return t.items.NewEntry(key, tier.Meta{Weight: int64(len(key)+encodedLen) + itemOverhead, Version: version, Expires: hardAt})
}

// insert keeps e unless an invalidation, own write or flush was counted
// since tk was taken or the tier holds a newer version of the key.
func (t *decodedTier[T]) insert(e *tier.Entry[item[T]], tk tier.Ticket) bool {
	return t.items.Fill(tk, e) == tier.Kept
}

// invalidate drops key on Redis's word that it changed. It reports whether
// an item was dropped.
func (t *decodedTier[T]) invalidate(key string) bool { return t.items.Invalidate(key) }

// ownWrite drops key after a write of this process.
func (t *decodedTier[T]) ownWrite(key string) { t.items.OwnWrite(key) }

// invalidateAll drops every item.
func (t *decodedTier[T]) invalidateAll() { t.items.InvalidateAll() }

// usage returns the number of items, their weight and the hits counted.
func (t *decodedTier[T]) usage() (entries int, bytes int64, hits uint64) {
	s := t.items.Stats()
	return s.Entries, s.Weight, t.hits.sum()
}
