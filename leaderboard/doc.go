// Package leaderboard is typecache's leaderboards: members ranked by a
// float64 score in Redis or Valkey, shared by every process on the
// deployment, bounded in size, with ties ranked by who reached the score
// first.
//
//	board, err := leaderboard.New(client, "points", leaderboard.Options{MaxSize: 1000, TTL: 30 * 24 * time.Hour})
//	_, err = board.Incr(ctx, "ada", 25)
//	top, err := board.Top(ctx, 10)
//
// Ranks are 1-based, as users read them: the first entry of Top has Rank 1,
// and Rank(member) of that member is 1.
//
// # Ties
//
// Two members with equal scores rank by who reached the score first: the
// earlier ranks higher, in either [Order]. A float64 has no spare bits for
// the arrival order, so a board is two keys in one cluster slot: a sorted
// set whose elements are a 16-digit tie code followed by the member, and a
// hash from each member to its tie code, plus an arrival counter. Redis
// orders equal scores by element, so the codes order them by arrival.
// Scores stay whole, exact float64 values. The cost: about twice the memory
// of a plain sorted set, and a Lua script for every write and for Score,
// Rank and Around (Top, Page and Len are single commands).
//
// # Bounded, and expiring
//
// A write that takes the board past Options.MaxSize removes, in the same
// script, the members that rank last (the worst score, and among equal
// scores the latest to reach it), so the board never grows past MaxSize
// even under concurrent writers. Every board expires: an AllTime board
// Options.TTL after its last write; a periodic board (Daily, Weekly,
// Monthly) TTL after its period ends. Options.Persistent keeps a board
// forever, asked for by name.
//
// # Periods
//
// A periodic board is a new board, in keys of its own
// (leaderboard:<name>:z{2026-03-14} and :h{...}), for every period, picked
// with the clock of the calling process in Options.Location. [Board.At]
// reads or writes the board of another time, such as yesterday's.
//
// # Top from a local cache
//
// Top of the current board is read with a tracked read: Redis remembers
// that this client read the board and reports its next change, which drops
// the local copy. Until then Top costs no round trip. The copy is kept by
// the Board rather than in rueidis's client-side cache, because Redis may
// report a write's change after the write's reply: a generation that every
// report and every write of this process moves keeps a read that raced a
// write from being cached, so a process always sees its own writes.
//
// Every call is one round trip (Top none when its cache answers) and
// atomic.
//
// # When Redis is down
//
// Every round trip goes through the client's breaker of the board's Redis
// node (typecache.Breaker), shared by every package on the client: while
// it is open, calls that need Redis fail at once with an error wrapping
// [ErrUnavailable], without a round trip.
package leaderboard
