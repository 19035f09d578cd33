package tier

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Tier is a bounded in-process map from the keys of Redis to values a
// process read from them, kept coherent with Redis by invalidations
// (RESP3 client tracking). It is safe for concurrent use by multiple
// goroutines: Get takes no lock, and writes only the entry's hit count,
// at most a few times between two passes of the eviction (see policy.go),
// so hits cost the same on one core and on many; the other methods
// take the tier's lock for a short, bounded time and never block on I/O,
// so Invalidate may run on the goroutine that reads the connection. Values
// are shared by every caller that gets them: treat them as immutable.
//
// # The rule
//
// Every exchange with Redis whose reply may enter the tier takes a Ticket
// (Begin) before it is sent. The ticket notes the generation of the key's
// stripe (one of at least 4,096, picked by a hash of the key, independent of
// the bound) and the tier's epoch. An invalidation of the key, and every
// write of this process to it (OwnWrite, after the write's reply), adds to
// the stripe's generation and drops the key; InvalidateAll (a reconnect, a
// FLUSHALL, a change of topology) adds to the epoch and drops everything.
//
//   - Fill keeps a read's reply only if neither its stripe's generation nor
//     the epoch moved since Begin, and the tier holds no newer version of the
//     key. Claim: the tier never keeps a value older than the last change of
//     its key whose invalidation this process received, or whose own write
//     returned, before the value entered. Proof: let C be such a change and
//     R the read that filled. If R's ticket was taken after C's invalidation
//     (or own write) was counted, R was sent after it, so Redis ran R after
//     C, and R's reply is at least as new as C. Otherwise the count for C
//     falls between R's Begin and R's Fill: both counting and Fill hold the
//     lock, so Fill sees the moved generation (or epoch) and keeps nothing.
//     An entry kept earlier is dropped by the count itself. Invalidations
//     arrive on the tracking connection before the reply of any command sent
//     on it after the change, so a change that R's reply predates has its
//     invalidation still to come, and that drops the entry. A ticket whose
//     stripe another key shares may refuse a fill it could have kept (the
//     fill-rejection benchmark measures how often), never keep a stale one.
//   - OwnWrite drops the key and adds to the generation after the write's
//     reply, before the write returns: no read of this process that starts
//     after it serves what the write replaced, and no read in flight during
//     it keeps what it read.
//   - ReadUntracked ends a read of the key whose reply came on a connection
//     that does not track (so no invalidation is ordered after it), after
//     its reply, as OwnWrite does: it drops the key and counts in the
//     stripe. Claim: once the read returned a value v, the tier holds no
//     older value of the key. Proof: a fill whose ticket was taken before
//     the count is refused (the count falls between its Begin and its Fill)
//     or dropped by the count if it came first; one whose ticket was taken
//     after was sent after the read's reply, so Redis ran it after the read.
//     Without the count, a tracked read sent before the untracked one could
//     fill after it with an older value, whose invalidation may still be on
//     its way: a caller of both would then be served the older value.
//   - FillOwnWrite lets a write keep what it wrote (write-through), when
//     Redis reports a connection's own writes to it (no NOLOOP, no BCAST;
//     the caller checks) and the write read the key under tracking before
//     and after writing it, so that Redis sends exactly one invalidation of
//     the key for the write, after the write's reply and before that of any
//     later change. The stripe's generation counts invalidations and own
//     writes apart. The value is kept only if no own write of the stripe
//     ended and no flush happened since the write's Begin, and at most one
//     invalidation was counted: none means the write's own invalidation is
//     still to come, and the entry absorbs exactly one (the next
//     invalidation of the key leaves the entry and counts nowhere); one is
//     the write's own or another's, and then the entry absorbs none, and the
//     write's own invalidation, if still to come, drops it: a lost round
//     trip, never a stale entry. An absorbed invalidation need not count:
//     it reports a change the entry holds, and any exchange open then was
//     sent after the write's reply (an exchange open during the write sees
//     the write counted). With several connections to one node, one
//     connection's invalidation may overtake another's, so the absorbed
//     invalidation may be an older write's; the entry then lives until its
//     own write's invalidation, which Redis sent before any later change's:
//     the staleness stays within the invalidation delay.
//   - A Fill that replaces an entry carries its absorption over: the new
//     value holds the write whose invalidation is still to come.
//
// # Eviction
//
// The tier holds at most Options.MaxEntries entries and Options.MaxWeight of
// weight; see policy.go for the eviction (small, main and ghost queues, after
// S3-FIFO). Expired entries are evicted first when met.
type Tier[V any] struct {
	seed  maphash.Seed
	parts []part[V]
	pmask uint64

	gens  []atomic.Uint64 // per stripe: invalidations low, own writes high
	smask uint64
	epoch atomic.Uint64 // flushes

	mu     sync.Mutex
	policy policy[V]
	closed bool
}

// Options bound a Tier. The zero value holds one entry.
type Options struct {
	// MaxEntries bounds the number of entries (at least 1).
	MaxEntries int
	// MaxWeight bounds the sum of the entries' weights; 0 means no bound.
	MaxWeight int64
}

// Entry is one value the tier holds, with what the tier keeps beside it.
// Its Value and metadata never change once the entry is filled, so a caller
// may use an entry after the tier dropped it.
type Entry[V any] struct {
	// Value is what the user stored.
	Value V

	key     string
	hash    uint64
	weight  int64
	version uint64
	expires int64

	freq atomic.Uint32 // hits since the hand last passed, up to maxFreq

	// Under the tier's lock.
	absorb     int32 // own invalidations still to come that leave the entry
	queue      uint8
	prev, next *Entry[V]
}

// Meta is what the tier keeps beside a value.
type Meta struct {
	// Weight is the entry's cost against Options.MaxWeight.
	Weight int64
	// Version orders values of one key: a Fill never replaces an entry of a
	// higher version. 0 when the user has none.
	Version uint64
	// Expires, in unix nanoseconds, makes the entry the first to go once
	// passed; 0 means never. Get still returns an expired entry: the caller
	// checks the time it cares about.
	Expires int64
}

func (e *Entry[V]) expired(now int64) bool { return e.expires != 0 && e.expires <= now }

// Ticket notes the state of a key's stripe before an exchange is sent; see
// the rule on Tier.
type Ticket struct {
	hash, gen, epoch uint64
}

// Outcome says what Fill or FillOwnWrite did with an entry.
type Outcome uint8

const (
	// Kept: the tier holds the entry.
	Kept Outcome = iota
	// Overtaken: an invalidation, an own write or a flush was counted since
	// Begin (or, for FillOwnWrite, more than the rule allows).
	Overtaken
	// Outdated: the tier holds a newer version of the key.
	Outdated
	// TooHeavy: the entry alone weighs more than Options.MaxWeight.
	TooHeavy
	// Closed: the tier was closed.
	Closed
)

// minStripes is the least number of generation stripes.
const minStripes = 1 << 12

// ownWrite is what an own write adds to a stripe's generation.
const ownWrite = 1 << 32

// New returns an empty tier bounded by o.
func New[V any](o Options) *Tier[V] {
	o.MaxEntries = max(1, o.MaxEntries)
	if o.MaxWeight <= 0 {
		o.MaxWeight = 1<<63 - 1
	}
	parts := 1
	for parts < 64 && o.MaxEntries/parts >= 1024 {
		parts *= 2
	}
	stripes := minStripes
	for stripes < 1<<16 && stripes < 4*o.MaxEntries {
		stripes *= 2
	}
	t := &Tier[V]{
		seed: maphash.MakeSeed(), parts: make([]part[V], parts), pmask: uint64(parts - 1),
		gens: make([]atomic.Uint64, stripes), smask: uint64(stripes - 1),
		policy: newPolicy[V](o.MaxEntries, o.MaxWeight),
	}
	for i := range t.parts {
		t.parts[i].tab.Store(newTable[V](0))
	}
	return t
}

func (t *Tier[V]) hash(key string) uint64 { return maphash.String(t.seed, key) }

// stripe returns the generation of hash h's stripe. The stripe takes the
// bits between the part's (the lowest) and the table's probe start (the
// upper half), so that keys of one part or one probe run spread over the
// stripes.
func (t *Tier[V]) stripe(h uint64) *atomic.Uint64 { return &t.gens[(h>>16)&t.smask] }

// Get returns the entry under key, or nil. It takes no lock.
func (t *Tier[V]) Get(key string) *Entry[V] {
	h := t.hash(key)
	e := t.parts[h&t.pmask].tab.Load().find(key, h)
	if e != nil {
		if f := e.freq.Load(); f < maxFreq {
			e.freq.Store(f + 1)
		}
	}
	return e
}

// Holds reports whether the tier holds an entry under key, expired or
// not, without counting a hit. It takes no lock.
func (t *Tier[V]) Holds(key string) bool {
	h := t.hash(key)
	return t.parts[h&t.pmask].tab.Load().find(key, h) != nil
}

// Begin returns the ticket of an exchange about key, to take before it is
// sent and pass to Fill or FillOwnWrite with its reply. It takes no lock.
func (t *Tier[V]) Begin(key string) Ticket {
	h := t.hash(key)
	return Ticket{hash: h, epoch: t.epoch.Load(), gen: t.stripe(h).Load()}
}

// NewEntry returns an entry of key with meta, for Fill or FillOwnWrite; the
// caller sets its Value before passing it.
func (t *Tier[V]) NewEntry(key string, meta Meta) *Entry[V] {
	return &Entry[V]{key: key, hash: t.hash(key), weight: meta.Weight, version: meta.Version, expires: meta.Expires}
}

// Fill keeps e, the reply of a read whose ticket is tk, if the rule allows
// it (see Tier), evicting other entries as needed.
func (t *Tier[V]) Fill(tk Ticket, e *Entry[V]) Outcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	if out := t.check(tk, e); out != Kept {
		return out
	}
	if t.stripe(e.hash).Load() != tk.gen {
		return Overtaken
	}
	return t.keep(e, -1)
}

// FillOwnWrite ends a write of this process whose ticket is tk, as OwnWrite
// does, and then keeps e, what the write stored, if the rule allows it (see
// Tier).
func (t *Tier[V]) FillOwnWrite(tk Ticket, e *Entry[V]) Outcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	moved := t.stripe(e.hash).Load() - tk.gen
	t.ownWrite(e.key, e.hash)
	if out := t.check(tk, e); out != Kept {
		return out
	}
	invalidations, writes := uint32(moved), uint32(moved>>32)
	if writes != 0 || invalidations > 1 {
		return Overtaken
	}
	return t.keep(e, int32(1-invalidations))
}

// check returns Kept if e may enter as far as the epoch, the closing and
// its weight go.
func (t *Tier[V]) check(tk Ticket, e *Entry[V]) Outcome {
	switch {
	case tk.hash != e.hash:
		panic("tier: a ticket of another key")
	case t.closed:
		return Closed
	case t.epoch.Load() != tk.epoch:
		return Overtaken
	case e.weight > t.policy.maxWeight:
		return TooHeavy
	}
	return Kept
}

// keep stores e under the lock; absorb < 0 carries over the absorption of
// the entry e replaces.
func (t *Tier[V]) keep(e *Entry[V], absorb int32) Outcome {
	p := &t.parts[e.hash&t.pmask]
	if old := p.tab.Load().find(e.key, e.hash); old != nil {
		if old.version > e.version {
			return Outdated
		}
		if absorb < 0 {
			absorb = old.absorb
		}
		t.drop(p, old)
	}
	e.absorb = max(absorb, 0)
	var now int64
	for t.policy.full(e) {
		if now == 0 {
			now = time.Now().UnixNano()
		}
		victim := t.policy.evict(now)
		t.parts[victim.hash&t.pmask].tab.Load().remove(victim)
	}
	t.policy.add(e)
	p.add(e)
	return Kept
}

// drop removes e from p and from the policy, under the lock.
func (t *Tier[V]) drop(p *part[V], e *Entry[V]) {
	p.tab.Load().remove(e)
	t.policy.remove(e)
}

// Invalidate reports that Redis changed key: unless the entry under key
// absorbs it (see FillOwnWrite), it drops the entry and counts in key's
// stripe. It reports whether it dropped an entry.
func (t *Tier[V]) Invalidate(key string) bool {
	h := t.hash(key)
	p := &t.parts[h&t.pmask]
	t.mu.Lock()
	defer t.mu.Unlock()
	e := p.tab.Load().find(key, h)
	if e != nil && e.absorb > 0 {
		e.absorb--
		return false
	}
	t.stripe(h).Add(1)
	if e != nil {
		t.drop(p, e)
	}
	return e != nil
}

// OwnWrite ends a write of this process to key (or an exchange that may
// have written it: a failed one may have been applied), after its reply:
// it drops key and counts in key's stripe.
func (t *Tier[V]) OwnWrite(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ownWrite(key, t.hash(key))
}

// ReadUntracked ends a read of key made on a connection that does not
// track, after its reply: it drops key and counts in key's stripe, so that
// no fill in flight keeps a value older than the read's (see the rule).
func (t *Tier[V]) ReadUntracked(key string) { t.OwnWrite(key) }

func (t *Tier[V]) ownWrite(key string, h uint64) {
	t.stripe(h).Add(ownWrite)
	p := &t.parts[h&t.pmask]
	if e := p.tab.Load().find(key, h); e != nil {
		t.drop(p, e)
	}
}

// InvalidateAll drops every entry and refuses every fill whose ticket was
// taken before: a connection was lost, the server was flushed or the
// topology changed, so invalidations may have been missed.
func (t *Tier[V]) InvalidateAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flush()
}

// Close drops every entry and keeps nothing from now on: no invalidation
// will arrive any more.
func (t *Tier[V]) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flush()
	t.closed = true
}

func (t *Tier[V]) flush() {
	t.epoch.Add(1)
	for i := range t.parts {
		t.parts[i].tab.Store(newTable[V](0))
	}
	t.policy.reset()
}

// Stats is what a tier holds.
type Stats struct {
	Entries int   // held now
	Weight  int64 // of the entries held now
}

// Stats returns what the tier holds now.
func (t *Tier[V]) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{Entries: t.policy.entries(), Weight: t.policy.weight()}
}
