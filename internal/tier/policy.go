package tier

// The eviction policy, after S3-FIFO: a new entry enters a small FIFO queue
// (a hundredth of the tier); leaving it, an entry hit while there moves to the
// main queue, the others are evicted and their keys remembered in a ghost
// queue, so that a key read again soon enters the main queue directly. The
// main queue is a CLOCK: an entry hit since the hand last passed it goes
// around again, with one hit fewer counted. One-hit wonders and scans pass
// through the small queue without displacing the main queue's entries.
//
// Hits only count, in the entry, and write only when the count changes
// (at most maxFreq times a round): the policy needs no lock on the hit path,
// and a hot entry's line is not written by every hit.

// maxFreq bounds the hits an entry counts between two passes of the hand.
const maxFreq = 3

// The small queue holds a smallShare-th of the tier. S3-FIFO's paper takes
// a tenth; on the hit-ratio streams of bench/ (Zipf, scans, a moving hot
// set) a hundredth wins on every stream but the moving hot set at 10k
// entries, where it loses a few tenths of a point and still beats otter's
// W-TinyLFU: the ghost queue, more than the small queue's length, admits a
// key read again.
const smallShare = 100

// queue is a FIFO of entries, linked through the entries, newest at head;
// the policy's lock guards it.
type queue[V any] struct {
	head, tail *Entry[V]
	n          int
	weight     int64
}

func (q *queue[V]) push(e *Entry[V], id uint8) {
	e.queue, e.prev, e.next = id, nil, q.head
	if q.head != nil {
		q.head.prev = e
	} else {
		q.tail = e
	}
	q.head = e
	q.n++
	q.weight += e.weight
}

func (q *queue[V]) unlink(e *Entry[V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		q.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		q.tail = e.prev
	}
	e.prev, e.next, e.queue = nil, nil, 0
	q.n--
	q.weight -= e.weight
}

const (
	inNone uint8 = iota
	inSmall
	inMain
)

// policy decides which entries stay; the tier's lock guards it.
type policy[V any] struct {
	small, main queue[V]
	ghost       ghost
	maxEntries  int
	maxWeight   int64
}

func newPolicy[V any](maxEntries int, maxWeight int64) policy[V] {
	return policy[V]{maxEntries: maxEntries, maxWeight: maxWeight, ghost: newGhost(maxEntries)}
}

func (p *policy[V]) entries() int  { return p.small.n + p.main.n }
func (p *policy[V]) weight() int64 { return p.small.weight + p.main.weight }

// full reports whether e does not fit beside the entries held.
func (p *policy[V]) full(e *Entry[V]) bool {
	return p.entries() > 0 && (p.entries() >= p.maxEntries || p.weight()+e.weight > p.maxWeight)
}

// add places e, a new entry, in its queue; the caller made room.
func (p *policy[V]) add(e *Entry[V]) {
	e.freq.Store(0)
	if p.ghost.has(e.hash) {
		p.main.push(e, inMain)
		return
	}
	p.small.push(e, inSmall)
}

// remove takes e out of its queue.
func (p *policy[V]) remove(e *Entry[V]) {
	switch e.queue {
	case inSmall:
		p.small.unlink(e)
	case inMain:
		p.main.unlink(e)
	}
}

// evict removes one entry from the queues and returns it; expired entries
// (their expiry at or before now) go first wherever the hand finds them.
func (p *policy[V]) evict(now int64) *Entry[V] {
	for {
		if p.small.n > 0 && (p.main.n == 0 || smallShare*p.small.n >= p.maxEntries || p.small.weight >= p.maxWeight/smallShare) {
			e := p.small.tail
			p.small.unlink(e)
			if e.freq.Load() > 0 && !e.expired(now) {
				e.freq.Store(0)
				p.main.push(e, inMain)
				continue
			}
			p.ghost.add(e.hash, p.entries()+1)
			return e
		}
		e := p.main.tail
		p.main.unlink(e)
		if f := e.freq.Load(); f > 0 && !e.expired(now) {
			e.freq.Store(f - 1)
			p.main.push(e, inMain)
			continue
		}
		return e
	}
}

// reset forgets every entry (the tier drops its tables) and every evicted
// key.
func (p *policy[V]) reset() {
	p.small, p.main = queue[V]{}, queue[V]{}
	p.ghost.reset()
}

// ghost remembers the hashes of the last keys evicted from the small queue,
// at most as many as the tier holds entries: a FIFO in a ring that grows
// as needed, and their counts by hash.
type ghost struct {
	ring       []uint64
	head, n    int
	held       map[uint64]int32 // occurrences in ring
	maxEntries int
}

func newGhost(maxEntries int) ghost {
	return ghost{held: make(map[uint64]int32), maxEntries: maxEntries}
}

func (g *ghost) has(h uint64) bool { return g.held[h] > 0 }

// add remembers h, forgetting the oldest hashes beyond limit.
func (g *ghost) add(h uint64, limit int) {
	limit = max(1, min(limit, g.maxEntries))
	for g.n >= limit {
		old := g.ring[g.head]
		if g.held[old]--; g.held[old] <= 0 {
			delete(g.held, old)
		}
		g.head = (g.head + 1) % len(g.ring)
		g.n--
	}
	if g.n == len(g.ring) {
		grown := make([]uint64, max(16, 2*len(g.ring)))
		for i := range g.n {
			grown[i] = g.ring[(g.head+i)%len(g.ring)]
		}
		g.ring, g.head = grown, 0
	}
	g.ring[(g.head+g.n)%len(g.ring)] = h
	g.n++
	g.held[h]++
}

// reset forgets every hash.
func (g *ghost) reset() {
	*g = newGhost(g.maxEntries)
}
