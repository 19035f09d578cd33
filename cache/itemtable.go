package cache

import "sync/atomic"

// itemTable is a shard's items by key: open addressing with linear probing
// over atomic slots. The holder of the shard's lock writes it; lookups take
// no lock and write nothing, so a hot key's hits do not bounce a lock's
// cache line between cores.
//
// A removed item's slot gets the table's tombstone, which probes pass over;
// an insertion reuses the first tombstone of its probe sequence. When the
// slots in use (items and tombstones) would pass half the table, the shard
// moves to a new table holding only the items, and stops writing the old
// one: a lookup that loaded the old table sees it as it was when replaced,
// and every lookup that starts later loads the new one.
type itemTable[T any] struct {
	slots []atomic.Pointer[item[T]] // a power of two of them
	tomb  *item[T]                  // marks a removed item's slot
	live  int                       // items, under the shard's lock
	used  int                       // items and tombstones, under the shard's lock
}

// newItemTable returns an empty table with room for items without moving.
func newItemTable[T any](items int) *itemTable[T] {
	n := 8
	for n < 3*items {
		n *= 2
	}
	return &itemTable[T]{slots: make([]atomic.Pointer[item[T]], n), tomb: new(item[T])}
}

// start is the first slot of the probe sequence of hash h (the shard was
// chosen by h's low bits).
func (tab *itemTable[T]) start(h uint64) uint64 {
	return h >> 32 & uint64(len(tab.slots)-1)
}

// find returns the item under key, whose hash is h, or nil. It is safe
// without the shard's lock.
func (tab *itemTable[T]) find(key string, h uint64) *item[T] {
	mask := uint64(len(tab.slots) - 1)
	i := tab.start(h)
	for range tab.slots {
		it := tab.slots[i].Load()
		if it == nil {
			return nil
		}
		if it != tab.tomb && it.hash == h && it.key == key {
			return it
		}
		i = (i + 1) & mask
	}
	return nil
}

// put stores it, whose key the table does not hold, under the shard's lock;
// the table must have a free slot (see add).
func (tab *itemTable[T]) put(it *item[T]) {
	mask := uint64(len(tab.slots) - 1)
	for i := tab.start(it.hash); ; i = (i + 1) & mask {
		switch tab.slots[i].Load() {
		case nil:
			tab.used++
		case tab.tomb:
		default:
			continue
		}
		tab.slots[i].Store(it)
		tab.live++
		return
	}
}

// remove replaces it with a tombstone, under the shard's lock.
func (tab *itemTable[T]) remove(it *item[T]) {
	mask := uint64(len(tab.slots) - 1)
	for i := tab.start(it.hash); ; i = (i + 1) & mask {
		switch tab.slots[i].Load() {
		case nil:
			return
		case it:
			tab.slots[i].Store(tab.tomb)
			tab.live--
			return
		}
	}
}

// add puts it into the shard's table, under the shard's lock, first moving
// the items to a new table when the slots in use would pass half the
// current one.
func (s *tierShard[T]) add(it *item[T]) {
	tab := s.items.Load()
	if 2*(tab.used+1) <= len(tab.slots) {
		tab.put(it)
		return
	}
	next := newItemTable[T](tab.live + 1)
	for i := range tab.slots {
		if old := tab.slots[i].Load(); old != nil && old != tab.tomb {
			next.put(old)
		}
	}
	next.put(it)
	s.items.Store(next)
}
