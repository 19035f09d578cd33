package tier

import (
	"hash/maphash"
	"sync/atomic"
)

// Doorkeeper remembers the keys read recently, to admit into a tier only
// the keys read more than once: a key's first read can then go untracked
// (see Tier.ReadUntracked), and keys read once and never again (one-hit
// wonders, scans) cost neither a tracked read nor a line in Redis's
// tracking table nor a place in the tier. It is a direct-mapped table of
// 32-bit fingerprints, four slots per entry of the tier it guards: a key is
// forgotten when a key of the same slot is read after it, so a key read
// again within about four tier-fulls of distinct reads is admitted. It is
// safe for concurrent use and takes no lock; a race between two keys of one
// slot can only make one look new again.
type Doorkeeper struct {
	seed  maphash.Seed
	slots []atomic.Uint32
	mask  uint64
}

// Slot counts of a Doorkeeper: four per tier entry, at least minSlots and
// at most maxSlots (16 MiB).
const (
	minSlots = 1 << 10
	maxSlots = 1 << 22
)

// NewDoorkeeper returns a Doorkeeper for a tier of maxEntries entries.
func NewDoorkeeper(maxEntries int) *Doorkeeper {
	n := minSlots
	for n < maxSlots && n < 4*maxEntries {
		n *= 2
	}
	return &Doorkeeper{seed: maphash.MakeSeed(), slots: make([]atomic.Uint32, n), mask: uint64(n - 1)}
}

// Seen reports whether key was passed to Seen recently, and remembers it.
func (d *Doorkeeper) Seen(key string) bool {
	h := maphash.String(d.seed, key)
	fingerprint := uint32(h>>32) | 1 // 0 is an empty slot
	slot := &d.slots[h&d.mask]
	if slot.Load() == fingerprint {
		return true
	}
	slot.Store(fingerprint)
	return false
}
