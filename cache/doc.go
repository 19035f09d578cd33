// Package cache is typecache's typed cache: values of type T stored in Redis
// or Valkey, with a local tier of decoded values in front that Redis keeps
// coherent through server-assisted client-side caching, and loaders for
// cache-aside and write-through.
//
//	users, err := cache.New[User](client, "user", cache.Options[User]{TTL: time.Hour})
//	u, err := users.Fetch(ctx, id, cache.LoaderFunc[User](loadUser))
//
// # Read path
//
// A read looks in the local tier (decoded values, no allocation on a hit),
// then runs one script in Redis through a tracked read (the server reports
// the key's next change), which on a miss also takes the key's load lease,
// then, for Fetch and FetchMany, calls the loader. GetMany and SetMany read
// and write many keys in one round trip per node. Every key is stored
// under "cache:<name>:{<key>}", in an envelope that holds the stale window
// and the load duration next to the codec's bytes; Options.Version adds a
// version to the name, so that two versions of T never share entries.
//
// # Clear
//
// Clear makes every entry unreachable with one write: it moves the cache's
// generation, which every stored value carries and every script checks.
//
// # Coherence
//
// Redis reports changes of tracked keys to the client, whose invalidation
// hub drops them from the local tier. A read in flight when an invalidation
// arrives does not put what it read into the tier (a generation of the key's
// stripe, one of thousands, is noted before the read and checked before
// inserting). This process's own Set, Delete, Put and stored
// loads drop the local entry at once, and later reads in this process see
// them (read-your-writes), although Redis reports the change of an own write
// only after the write's reply. Another process's change reaches this tier
// after one invalidation delay, typically well under a millisecond; a lost
// connection or FLUSHALL drops the whole tier.
//
// # Expiry
//
// Values are fresh for Options.TTL, spread by Options.Jitter, or for what
// Options.TTLFunc says for each value: a hard expiry that no stale window
// extends. XFetch
// refreshes a value in the background shortly before it expires, with a
// probability that rises toward expiry and with the load's duration. In the
// stale window (Options.StaleTTL) after the TTL, Fetch returns the old value
// at once and refreshes it in the background; when that refresh fails, the
// old value comes with an error wrapping ErrStale. Expiries are computed
// from the server's TTL of the key, never from another process's clock.
//
// # Loads
//
// One goroutine per key and process runs the loader; the others wait for its
// result, each until its own context ends. The load runs apart from the
// callers' contexts, bounded by Options.LoadTimeout. A loader's ErrNotFound
// is cached as absent for Options.NegativeTTL; other errors are returned and
// never cached; a loader's panic is re-raised in every waiting goroutine.
//
// # Failures
//
// Each call to Redis is bounded by Options.RedisTimeout; the read of Fetch
// and FetchMany also by half the time left on the caller's context, so that
// a stalled Redis leaves the loader the other half. The Client's breaker
// of the node serving a key (see typecache.Breaker and
// typecache.WithBreaker) skips a node that is down: while it is open, Get,
// Set and Delete of its keys return ErrUnavailable at once and Fetch calls
// the loader, until a background probe finds the node up again. On a
// cluster the other nodes' keys work as usual. Bytes that do not decode
// under a key are a miss, reported to the Observer; Fetch overwrites them.
//
// A closed Client is no outage: after the Close of a Cache or of its
// Client every call returns ErrClosed, without the local tier or the
// loader, and New fails on a closed Client.
//
// See docs/cache.md for the guide and the measured benchmarks.
package cache
