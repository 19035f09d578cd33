// Package counter is typecache's counters: named sets of int64 counters in
// Redis or Valkey that every process sharing the deployment shares, each
// key with an expiry.
//
//	failures, err := counter.New(client, "login-failures", counter.Options{TTL: 15 * time.Minute})
//	n, err := failures.Add(ctx, "alice@example.com", 1)
//
// # Exact, and never without an expiry
//
// [Counter.Add] runs one script: INCRBY, then PEXPIRE ... NX, so the key a
// first increment creates gets its expiry in the same atomic step. No crash
// between two calls can leave a counter that never expires (the hand-written
// INCR then EXPIRE can), and concurrent Adds from any number of processes
// add up exactly. The TTL is fixed from the first increment: later
// increments do not extend it, and a counter that expires starts again from
// 0. Counts never pass through Lua numbers, which are doubles and round past
// 2^53; INCRBY refuses to leave int64, and Add returns [ErrOverflow] with the
// counter unchanged: counters never wrap.
//
// # Keys
//
// A counter's key is counter:<name>:c{<key>}: the caller's key, escaped, is
// the cluster hash tag, so counters spread over a cluster's slots and no key
// can reach another name's counters. [Counter.GetMany] pipelines its reads,
// one round trip per node.
//
// # Windows
//
// A [Windowed] counts per fixed window of time ("views per minute"): one key
// per key and window, counter:<name>:w<window ms>.<index>{<key>}, each
// expiring once it has left the last WindowOptions.Keep windows. The windows
// of one key share its hash tag, so [Windowed.Last] reads them with one
// MGET.
//
// # Hot counters
//
// A round trip per increment is too much for a counter that thousands of
// requests a second increment. [Counter.Buffered] returns a [Buffered] that
// sums increments in the process and flushes them every
// BufferOptions.FlushInterval, every key in one pipelined round trip per
// node; a crash loses at most the increments since the last successful
// flush. Its Get adds this process's unflushed delta to the value in Redis,
// which it keeps in a local cache that Redis invalidates (server-assisted
// client-side caching): between flushes a hot key's Get costs no round
// trip. Reads through such a cache pay off only here: every direct Add
// changes the key and so invalidates it.
//
// # When Redis is down
//
// Every round trip goes through the client's breaker of the key's Redis
// node (typecache.Breaker), shared by every package on the client: while
// it is open, calls about the node's keys fail at once with an error
// wrapping [ErrUnavailable], without a round trip. GetMany and a flush
// refuse only the keys of a node whose breaker is open; a flush keeps
// their deltas for the next one.
package counter
