package leaderboard

import "time"

// SetClock makes b pick its period with now instead of time.Now.
func SetClock(b *Board, now func() time.Time) { b.now = now }

// SetTopReadHook makes b's Top call hook after it read Redis and before it
// caches what it read.
func SetTopReadHook(b *Board, hook func()) { b.topRead = hook }

// Keys returns the Redis keys of b's current board: its sorted set and hash.
func Keys(b *Board) (set, hash string) {
	k := b.keys()
	return k.set, k.hash
}

// SkipTopFills makes b's next n Top misses read untracked, as a run of
// them does on a board whose fills keep being dropped unhit.
func SkipTopFills(b *Board, n int32) { b.top.skip.Store(n) }
