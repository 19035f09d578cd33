// Package lock is a distributed lock on one Redis deployment (a standalone
// server or a cluster) with fencing tokens, automatic lease extension, a
// context that is cancelled when the lock is lost, and waiters that are
// woken by Redis's client-side-caching invalidations instead of polling.
//
//	locker, err := lock.New(client, lock.Options{}) // 5 s lease, extended every 5/3 s
//	...
//	l, err := locker.Acquire(ctx, "nightly-report") // blocks until held or ctx ends
//	if err != nil { ... }
//	defer l.Release(context.Background())
//	err = work(l.Context(), l.Token()) // Context ends if the lock is lost
//
// # Keys and scripts
//
// A Locker's Options.Prefix is its instance name. The lock name lives under
// "lock:<Prefix>:{name}" (the holder's owner value, with a PX lease) and its
// fencing counter under "lock:<Prefix>:f{name}" (an INCR counter); a '%' or
// '}' in name is percent-encoded, so no name reaches outside its instance.
// Both keys have the hash tag {name}, so they sit in one cluster slot, and
// different names spread over the cluster. Acquire, extend and release are
// each one Lua script: acquire is SET NX PX plus INCR of the counter; extend
// and release act only if the key still holds the caller's owner value (a
// random 128-bit value per Locker and a counter). Leases are relative TTLs
// measured by the server; no client clock is sent to Redis.
//
// # Holding
//
// A held [Lock] has a watchdog that extends the lease to Options.Validity
// every Options.ExtendInterval (one timer per Locker serves all its held
// locks). Its [Lock.Context] is
// cancelled, with cause [ErrNotHeld], as soon as an extension finds the key
// gone or owned by someone else, or when extensions keep failing until the
// last successful one's lease has surely run out (measured on the local
// monotonic clock from the moment that extension was sent, less a 1% + 2 ms
// drift allowance). [Lock.Release] stops the watchdog and cancels the
// Context with cause [ErrReleased].
//
// # Waiting
//
// Goroutines of one Locker that want the same name queue inside the
// process, so one at a time tries in Redis. That waiter, in [Locker.Acquire],
// reads the lock key's remaining TTL as a tracked read (MULTI, CLIENT CACHING YES, PTTL, EXEC), which asks Redis to report
// the key's next change, and then sleeps until the Locker's invalidation
// subscriber wakes it (release, expiry, deletion, extension), until the
// key's remaining TTL runs out, or for Options.RecheckInterval at most, in
// case an invalidation is lost. After waking it retries the acquire script:
// only the script decides who holds the lock.
//
// # Failures
//
// No call retries a failed command: a refused connection makes Acquire,
// TryAcquire, Extend and Release return the error at once. A
// held lock whose extensions fail is reported lost when its lease surely
// ended. [Observer] hears of acquisitions, waits, extensions, losses and
// releases.
//
// # Fencing
//
// [Lock.Token] grows with every acquisition of a name, so a resource that
// remembers the highest token it has accepted can refuse a write from a
// holder that lost the lock while paused. Redis replicates asynchronously:
// after a failover the counter, like the lock itself, can roll back. See
// docs/lock.md for what this lock does and does not guarantee.
package lock
