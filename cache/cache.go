package cache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/tier"
	"github.com/typecache/typecache/internal/transport"
)

// Cache is a typed cache of values of type T in Redis, with a local tier of
// decoded values in front. It is safe for concurrent use by multiple
// goroutines. Calls that touch Redis block for a few round trips at most,
// each bounded by Options.RedisTimeout; Fetch and FetchMany also wait for
// the loader, possibly for a load running in another goroutine or process.
// Local hits take no lock.
//
// Values returned by the Cache are shared with other callers and with the
// local tier unless Options.Clone is set: treat them as read-only.
//
// # Guarantees
//
// Within one process: a read that starts after a Set, Put or Delete
// returned sees that write or a later one (read your writes), and a read
// never returns a value older than one a read that ended before it
// returned (monotonic reads). Across processes: a load never stores a value
// after a write of the key completed (a write ends every load's lease), one
// load runs per missing key at a time in the whole fleet (the load lease),
// and every process sees the last completed write within the invalidation
// delay (Redis's push to the process's connection). See the cache guide for
// the faults under which each holds.
type Cache[T any] struct {
	conn  *transport.Conn
	redis rueidis.Client
	space keyspace.Space
	o     Options[T]   // validated, defaults filled in
	clock func() int64 // unix nanoseconds; nil: wallClock (tests set one)

	leaseMillis string // Options.StampedeLease, for the scripts
	markMillis  string // writeMarkWindow, for the scripts

	generationKey string             // the Redis key of the cache's generation (see Clear)
	generations   *tier.Tier[string] // what this process knows of it: one entry, under generationKey

	local     *decodedTier[T]  // nil when Options.DisableLocal or the client tracks nothing
	plainGets bool             // an untracked Get reads with a plain GET (getPlain): no stale window
	keys      KeyObserver      // Options.Observer when it is one
	conflicts ConflictObserver // Options.Observer when it is one
	breaker   *transport.Breaker
	deadline  *sharedDeadline // of each Redis call; nil when Options.RedisTimeout < 0
	loads     *sharedDeadline // of each shared load: Options.LoadTimeout
	flights   flightGroup[T]
	waiters   leaseWaiters
	refreshes refreshes
	keepers   sync.Pool // of *leaseKeeper[T], see keepLeases
	stats     counters
	// storedSize is a running mean of the sizes of the values this
	// process stored or read in Redis: with an eighth more, the capacity of
	// encode's buffer, so that values of one kind are encoded without
	// growing it; splitFrom is the mean from which a read splits
	// (splitReadBytes; tests change it): see splitReads.
	storedSize atomic.Int64
	splitFrom  int64

	unsubscribe func()
	closed      atomic.Bool
	background  sync.WaitGroup // loads and refreshes, waited for by Close

	// Set by tests only: afterRemoteRead runs between a remote read and the
	// insertion of its result into the local tier; onLeaseBusy when a read
	// finds another caller's lease, before waiting for it; admission, when
	// set, decides which remote reads go tracked instead of the local
	// tier's doorkeeper.
	afterRemoteRead func(key string)
	onLeaseBusy     func(key string)
	admission       func(key string) bool
}

// New returns a Cache of values of type T named name, configured by opts
// (which must set TTL). Its Redis keys are "cache:<name>:{<key>}" and, for
// each key's load lease and write mark, "cache:<name>:l{<key>}", plus the
// cache's generation "cache:<name>:g{}"; with Options.Version, <name> is
// name@Version. name must be 1 to 100 letters, digits, '.', '_', '-' or
// '@', so that caches of different names never share a key. Close the
// Cache when done: it subscribes to c's invalidations.
func New[T any](c *typecache.Client, name string, opts Options[T]) (*Cache[T], error) {
	if c == nil {
		return nil, invalid("New needs a *typecache.Client, got nil")
	}
	if err := keyspace.CheckName(name); err != nil {
		return nil, invalid("name %v", err)
	}
	o, err := opts.validated()
	if err != nil {
		return nil, err
	}
	instance := name
	if o.Version != "" {
		instance = name + "@" + o.Version
	}
	space, err := keyspace.New(keyspace.Cache, instance)
	if err != nil {
		return nil, invalid("name with Options.Version (%q) %v", instance, err)
	}
	conn, err := clientconn.Live(c, ErrClosed)
	if err != nil {
		return nil, fmt.Errorf("cache: new %q: %w", name, err)
	}
	o.Observer = observe.Named(o.Observer, name, Observer(NoopObserver{}))
	cache := &Cache[T]{
		conn: conn, redis: c.Redis(), space: space, o: o,
		leaseMillis:   rediscmd.Millis(o.StampedeLease),
		markMillis:    rediscmd.Millis(writeMarkWindow),
		generationKey: space.Key(generationKind, ""),
		generations:   tier.New[string](tier.Options{MaxEntries: 1}),
	}
	cache.keys, _ = o.Observer.(KeyObserver)
	cache.conflicts, _ = o.Observer.(ConflictObserver)
	cache.refreshes.init()
	if o.RedisTimeout > 0 {
		cache.deadline = newRedisDeadline(o.RedisTimeout)
	}
	cache.loads = newLoadDeadline(o.LoadTimeout)
	cache.breaker = conn.Breaker()
	stopBreaker := cache.breaker.OnOpen(func() {
		cache.stats.breakerOpens.Add(1)
		o.Observer.OnBreakerOpen()
	})
	if !o.DisableLocal && conn.Tracks(space.Prefix()) {
		// Only tracked replies may stay: Redis then says when they change.
		cache.local = newDecodedTier[T](o.MaxLocalEntries, o.MaxLocalBytes, o.AdmitFirstRead)
	}
	cache.plainGets = o.StaleTTL == 0
	cache.splitFrom = splitReadBytes
	wallClock.acquire()
	unsubscribe := c.Subscribe(space.Prefix(), invalidationSink[T]{cache})
	cache.unsubscribe = func() {
		unsubscribe()
		stopBreaker()
	}
	return cache, nil
}

// Close stops the Cache: it leaves the invalidation hub, waits for loads in
// flight (including those every caller gave up on, each bounded by
// Options.LoadTimeout) and background refreshes to end, and drops the local
// tier. Later calls return ErrClosed, as they do after the Close of the
// typecache.Client. Close does not close the typecache.Client.
func (c *Cache[T]) Close() {
	if c.closed.Swap(true) {
		return
	}
	c.unsubscribe()
	c.refreshes.close()
	c.waiters.wakeAll()
	c.background.Wait()
	c.deadline.close()
	c.loads.close()
	wallClock.release()
	if c.local != nil {
		c.local.invalidateAll()
	}
}

// Get returns the value under key: from the local tier, else from Redis. It
// returns ErrNotFound when the key is absent, cached as absent, past its TTL
// (the stale window is for Fetch), or holds bytes that do not decode (a
// decode error is reported to the observer, not returned). Redis failures are
// returned wrapped with the key; ErrUnavailable while the breaker is open.
func (c *Cache[T]) Get(ctx context.Context, key string) (T, error) {
	var zero T
	if err := c.check(key); err != nil {
		return zero, err
	}
	now := c.now()
	if it, sh := c.localLookup(key, now); it != nil && now < it.softAt {
		c.localHit(sh)
		return c.deliver(it)
	}
	var into item[T]
	calls := [1]readCall{{key: key, mode: readOnly}}
	res, err := c.readOne(ctx, readRequest{calls: calls[:], now: now}, &into)
	if err != nil {
		return zero, keyErr("get", key, err)
	}
	it := res.item
	if it == nil || now >= it.softAt {
		c.miss(key)
		return zero, ErrNotFound
	}
	c.readHit(key)
	return c.deliver(it)
}

// Set stores v under key for WithTTL's duration, else Options.TTLFunc's,
// else Options.TTL (see Options.TTLFunc for how each is jittered and
// whether a stale window follows). This process's local tier drops the key
// at once and later reads in this process see v (read-your-writes); other
// processes' local tiers drop it when Redis's invalidation reaches them.
func (c *Cache[T]) Set(ctx context.Context, key string, v T, opts ...SetOption) error {
	if err := c.check(key); err != nil {
		return err
	}
	_, err := c.set(ctx, key, v, opts, anyMark)
	return err
}

// set stores v under key; mark is the write's (see write). conflict
// reports that a Put's store became a delete.
func (c *Cache[T]) set(ctx context.Context, key string, v T, opts []SetOption, mark string) (conflict bool, err error) {
	cfg, err := c.o.setConfig(opts)
	if err != nil {
		return false, err
	}
	w, err := c.setWrite(key, v, cfg)
	if err != nil {
		return false, err
	}
	if !w.del {
		w.mark = mark
	}
	errs, conflicts := c.writeMany(ctx, []write{w})
	if errs[0] != nil {
		return false, keyErr("set", key, errs[0])
	}
	return conflicts[0], nil
}

// Delete removes keys from Redis and from this process's local tier. The
// first error is returned, wrapped with its key; the other keys are still
// deleted.
func (c *Cache[T]) Delete(ctx context.Context, keys ...string) error {
	for _, key := range keys {
		if err := c.check(key); err != nil {
			return err
		}
	}
	ws := make([]write, len(keys))
	for i, key := range keys {
		ws[i] = write{key: key, del: true, mark: anyMark}
	}
	errs, _ := c.writeMany(ctx, ws)
	var first error
	for i, err := range errs {
		if err != nil && first == nil {
			first = keyErr("delete", keys[i], err)
		}
	}
	return first
}

// Fetch returns the value under key, loading it with loader on a miss
// (cache-aside):
//
//   - a fresh value comes from the local tier or Redis; XFetch may start one
//     background refresh shortly before the TTL ends;
//   - within the stale window the stale value is returned at once and one
//     background refresh starts; if the previous refresh failed, the value
//     comes with an error wrapping ErrStale and the loader's error;
//   - on a miss, the read that found the key missing also took its load
//     lease (one round trip), unless another process holds it: one caller
//     per process (the others join it) and one process in the fleet runs
//     loader, and the others wait for the value to land in Redis (woken by
//     its invalidation), or take over if the lease lapses. The value is
//     stored, and the lease ended, in one more round trip. Each caller waits
//     until its own ctx ends, which does not cancel the load. A loader's
//     ErrNotFound is stored as absent for Options.NegativeTTL; other errors
//     are returned and not stored. A loader's panic is re-raised in every
//     waiting goroutine.
//
// A write (Set, Put, Delete) that completes while a load runs wins: the
// load's value is returned to its callers but not stored.
//
// When Redis fails (or the breaker is open) Fetch answers from the loader,
// without storing. After the Close of the Cache or of its Client it
// returns ErrClosed and never calls the loader.
func (c *Cache[T]) Fetch(ctx context.Context, key string, loader Loader[T]) (T, error) {
	var zero T
	if err := c.check(key); err != nil {
		return zero, err
	}
	if isNil[T](loader) {
		return zero, fmt.Errorf("%w: Fetch needs a Loader, got nil", ErrInvalidArgument)
	}
	now := c.now()
	l := keyLoader[T]{one: loader}
	if it, sh := c.localLookup(key, now); it != nil {
		c.localHit(sh)
		return c.serve(key, it, now, l)
	}
	var v [1]T
	var errs [1]error
	if cause := c.fetch(ctx, []string{key}, l, now, v[:], errs[:]); cause != nil {
		return zero, keyErr("fetch", key, cause)
	}
	return v[0], errs[0]
}

// Put writes v through: first to the source of truth with w, then to the
// cache. If w fails the cache is not touched and w's error is returned.
//
// Two writes of one key can reach the source in one order and the cache in
// the other. So Put notes the key's write mark before it calls w, and its
// cache update stores v only if no other write of the key (Set, Put,
// Delete, in any process) came in between; otherwise it deletes the entry,
// and the next read loads from the source: the cache never keeps a value
// older than the source's once the writes are done. Writes that completed
// before the Put began, and loads, do not count. Put takes one round trip
// when the local tier holds the key (its mark came with the value), two
// otherwise (one reads the mark). Such deletes are counted in
// Stats.PutConflicts. The entry is deleted too when the Put took longer
// than 9 s. If the cache update fails (say ErrTooLarge) the entry is
// deleted and the error says so; if that fails too, the error says that
// the entry may be stale until its TTL. Either way the source was written.
func (c *Cache[T]) Put(ctx context.Context, key string, v T, w Writer[T], opts ...SetOption) error {
	if err := c.check(key); err != nil {
		return err
	}
	if isNil[T](w) {
		return fmt.Errorf("%w: Put needs a Writer, got nil", ErrInvalidArgument)
	}
	began := time.Now()
	mark := c.writeMark(ctx, key)
	if err := w.Write(ctx, key, v); err != nil {
		return err
	}
	var setErr error
	if time.Since(began)+writeSendMargin < writeMarkWindow {
		var conflict bool
		if conflict, setErr = c.set(ctx, key, v, opts, mark); conflict {
			c.putConflict(key)
		}
		if setErr == nil {
			return nil
		}
	}
	if err := c.Delete(ctx, key); err != nil {
		return &keyError{op: "put", key: key, err: err,
			what: "the source was written, but the cache entry could not be updated or removed, and may be stale until its TTL"}
	}
	if setErr != nil {
		return &keyError{op: "put", key: key, err: setErr,
			what: "the source was written; the cache entry was removed because it could not be updated"}
	}
	return nil
}

// Stats returns a snapshot of the Cache's counters.
func (c *Cache[T]) Stats() Stats {
	st := Stats{
		RemoteHits:    c.stats.remoteHits.Load(),
		Misses:        c.stats.misses.Load(),
		Loads:         c.stats.loads.Load(),
		LoadErrors:    c.stats.loadErrors.Load(),
		StaleServed:   c.stats.staleServed.Load(),
		DecodeErrors:  c.stats.decodeErrors.Load(),
		Invalidations: c.stats.invalidations.Load(),
		BreakerOpens:  c.stats.breakerOpens.Load(),
		LockWaits:     c.stats.lockWaits.Load(),
		StoreFailures: c.stats.storeFailures.Load(),
		PutConflicts:  c.stats.putConflicts.Load(),
		LockErrors:    c.stats.lockErrors.Load(),
	}
	if c.local != nil {
		st.LocalEntries, st.LocalBytes, st.LocalHits = c.local.usage()
	}
	return st
}

// check validates a key and the Cache's state.
func (c *Cache[T]) check(key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	return c.live()
}

// live returns ErrClosed after the Close of the Cache or of its Client:
// every public call checks it before the local tier and any loader.
func (c *Cache[T]) live() error {
	if c.closed.Load() || c.conn.Closed() {
		return ErrClosed
	}
	return nil
}

// invalidationSink receives the hub's invalidations for the Cache's prefix.
type invalidationSink[T any] struct{ c *Cache[T] }

// Invalidate drops the local entry of a changed value, forgets its flight
// (see flightGroup) and wakes the callers waiting for the key's load (its
// value or its guard changed).
func (s invalidationSink[T]) Invalidate(redisKey string) {
	kind, key, ok := s.c.space.Parse(redisKey)
	if !ok {
		return
	}
	switch kind {
	case valueKind:
		s.c.flights.forget(key)
		if s.c.local != nil && s.c.local.invalidate(key) {
			s.c.stats.invalidations.Add(1)
			s.c.o.Observer.OnInvalidation(false)
		}
	case generationKind: // a Clear, or the generation key was lost
		s.InvalidateAll()
		return
	}
	s.c.waiters.wake(key)
}

// InvalidateAll forgets the cache's generation (its invalidation may have
// been lost), drops the local tier, forgets every flight and wakes every
// waiting caller.
func (s invalidationSink[T]) InvalidateAll() {
	s.c.forgetGeneration()
	if s.c.local != nil {
		s.c.stats.invalidations.Add(1)
		s.c.o.Observer.OnInvalidation(true)
	}
}
