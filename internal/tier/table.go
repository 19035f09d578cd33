package tier

import "sync/atomic"

// table is a part of the tier's entries by key: open addressing with linear
// probing over atomic slots. The holder of the tier's lock writes it;
// lookups take no lock and write nothing, so a hot key's hits do not bounce
// a lock's cache line between cores.
//
// A removed entry's slot gets the table's tombstone, which probes pass over;
// an insertion reuses the first tombstone of its probe sequence. When the
// slots in use (entries and tombstones) would pass half the table, the tier
// moves the part to a new table holding only the entries, and stops writing
// the old one: a lookup that loaded the old table sees it as it was when
// replaced, and every lookup that starts later loads the new one.
type table[V any] struct {
	slots []atomic.Pointer[Entry[V]] // a power of two of them
	tomb  *Entry[V]                  // marks a removed entry's slot
	live  int                        // entries, under the tier's lock
	used  int                        // entries and tombstones, under the tier's lock
}

// newTable returns an empty table with room for entries without moving.
func newTable[V any](entries int) *table[V] {
	n := 8
	for n < 3*entries {
		n *= 2
	}
	return &table[V]{slots: make([]atomic.Pointer[Entry[V]], n), tomb: new(Entry[V])}
}

// start is the first slot of the probe sequence of hash h (the part was
// chosen by h's low bits).
func (tab *table[V]) start(h uint64) uint64 {
	return h >> 32 & uint64(len(tab.slots)-1)
}

// find returns the entry under key, whose hash is h, or nil. It is safe
// without the tier's lock.
func (tab *table[V]) find(key string, h uint64) *Entry[V] {
	mask := uint64(len(tab.slots) - 1)
	i := tab.start(h)
	for range tab.slots {
		e := tab.slots[i].Load()
		if e == nil {
			return nil
		}
		if e != tab.tomb && e.hash == h && e.key == key {
			return e
		}
		i = (i + 1) & mask
	}
	return nil
}

// put stores e, whose key the table does not hold, under the tier's lock;
// the table must have a free slot (see part.add).
func (tab *table[V]) put(e *Entry[V]) {
	mask := uint64(len(tab.slots) - 1)
	for i := tab.start(e.hash); ; i = (i + 1) & mask {
		switch tab.slots[i].Load() {
		case nil:
			tab.used++
		case tab.tomb:
		default:
			continue
		}
		tab.slots[i].Store(e)
		tab.live++
		return
	}
}

// remove replaces e with a tombstone, under the tier's lock.
func (tab *table[V]) remove(e *Entry[V]) {
	mask := uint64(len(tab.slots) - 1)
	for i := tab.start(e.hash); ; i = (i + 1) & mask {
		switch tab.slots[i].Load() {
		case nil:
			return
		case e:
			tab.slots[i].Store(tab.tomb)
			tab.live--
			return
		}
	}
}

// part holds one table; the tier picks a part by the low bits of a key's
// hash, so that moving to a new table copies only a part of the entries.
type part[V any] struct {
	tab atomic.Pointer[table[V]]
	_   [56]byte // keeps parts that hits read apart from one another's writes
}

// add puts e into the part's table, under the tier's lock, first moving the
// entries to a new table when the slots in use would pass half the current
// one.
func (p *part[V]) add(e *Entry[V]) {
	tab := p.tab.Load()
	if 2*(tab.used+1) <= len(tab.slots) {
		tab.put(e)
		return
	}
	next := newTable[V](tab.live + 1)
	for i := range tab.slots {
		if old := tab.slots[i].Load(); old != nil && old != tab.tomb {
			next.put(old)
		}
	}
	next.put(e)
	p.tab.Store(next)
}
