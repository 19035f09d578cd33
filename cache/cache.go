package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"golang.org/x/sync/singleflight"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/lock"
)

// leaseFenceTTL lets the fencing counters of per-key load leases expire: a
// cache uses many short-lived lock names and does not need their tokens.
const leaseFenceTTL = time.Minute

// Cache is a typed cache of values of type T in Redis under the keys
// name + ":" + key, with a local tier of decoded values in front. It is safe
// for concurrent use by multiple goroutines. Calls that touch Redis block for
// a few round trips at most, each bounded by Options.RedisTimeout; Fetch and
// FetchMany also wait for the loader, Fetch possibly for a load running in
// another goroutine or process. Local hits do not block beyond a shard's
// read lock.
//
// Values returned by the Cache are shared with other callers and with the
// local tier unless Options.Clone is set: treat them as read-only.
type Cache[T any] struct {
	redis  rueidis.Client
	prefix string // name + ":"
	s      settings[T]
	now    func() int64 // unix nanoseconds; tests replace it

	local    *decodedTier[T] // nil when Options.DisableLocal
	writes   *ownWrites
	breaker  *breaker
	deadline *redisDeadline // nil when Options.RedisTimeout < 0
	loads    singleflight.Group
	// loadsWithoutRedis are loads after a failed read: they skip the
	// lease and the store, and must not join a load waiting on Redis.
	loadsWithoutRedis singleflight.Group
	guard             loadGuard
	locker            *lock.Locker // nil with Options.DisableStampedeLock
	refreshes         refreshes
	stats             counters
	unsubscribe       func()

	closed     atomic.Bool
	background sync.WaitGroup // background refreshes, waited for by Close

	// afterRemoteRead, set by tests only, runs between a remote read and the
	// insertion of its result into the local tier.
	afterRemoteRead func(key string)
}

// New returns a Cache of values of type T stored under name + ":" + key,
// configured by opts (which must set TTL). Close it when done: it subscribes
// to c's invalidations.
func New[T any](c *typecache.Client, name string, opts Options[T]) (*Cache[T], error) {
	if c == nil {
		return nil, errors.New("cache: New needs a *typecache.Client, got nil")
	}
	if name == "" {
		return nil, errors.New("cache: New needs a non-empty name")
	}
	s, err := opts.validate()
	if err != nil {
		return nil, err
	}
	cache := &Cache[T]{
		redis:  c.Redis(),
		prefix: name + ":",
		s:      s,
		now:    wallClock.read,
		writes: newOwnWrites(),
	}
	cache.refreshes.init()
	if s.redisTimeout > 0 {
		cache.deadline = &redisDeadline{timeout: int64(s.redisTimeout)}
	}
	cache.breaker = newBreaker(s.breakerFailures, int64(s.breakerCooldown), func() {
		cache.stats.breakerOpens.Add(1)
		s.observer.OnBreakerOpen()
	})
	direct := processLocalGuard{write: func(ctx context.Context, key string, data []byte, ttl time.Duration) error {
		return cache.write(ctx, key, cache.storeCmd(key, data, ttl))
	}}
	cache.guard = direct
	if !s.disableStampedeLock {
		locker, err := lock.New(c, lock.Options{Validity: s.stampedeLease, FenceTTL: max(leaseFenceTTL, s.stampedeLease)})
		if err != nil {
			return nil, fmt.Errorf("cache: Options.StampedeLease: %w", err)
		}
		cache.locker = locker
		cache.guard = &lockGuard{
			locker: locker, prefix: cache.prefix, fallback: direct,
			ownWrite: cache.ownWrite,
			waited:   func() { cache.stats.lockWaits.Add(1) },
			failed:   func() { cache.stats.lockErrors.Add(1) },
			isDown:   func() bool { return cache.breaker.isOpen(cache.now()) },
		}
	}
	wallClock.acquire()
	if s.disableLocal {
		cache.unsubscribe = func() {}
	} else {
		cache.local = newDecodedTier[T](s.maxLocalEntries, s.maxLocalBytes)
		cache.unsubscribe = c.Subscribe(cache.prefix, invalidationSink[T]{cache})
	}
	return cache, nil
}

// Close stops the Cache: it leaves the invalidation hub, waits for loads in
// flight (including those every caller gave up on, each bounded by
// Options.LoadTimeout) and background refreshes to end, and drops the local
// tier. Later calls return ErrClosed. Close does not close the
// typecache.Client.
func (c *Cache[T]) Close() {
	if c.closed.Swap(true) {
		return
	}
	c.unsubscribe()
	c.refreshes.close()
	c.background.Wait()
	if c.locker != nil {
		c.locker.Close()
	}
	c.deadline.close()
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
	it, err := c.readRemote(ctx, key, now, false, &into)
	if err != nil {
		return zero, fmt.Errorf("cache: get %q: %w", key, err)
	}
	if it == nil || now >= it.softAt {
		c.miss()
		return zero, ErrNotFound
	}
	c.remoteHit()
	return c.deliver(it)
}

// Set stores v under key for Options.TTL (or WithTTL's), jittered, plus the
// stale window. This process's local tier drops the key at once and later
// reads in this process see v (read-your-writes); other processes' local
// tiers drop it when Redis's invalidation reaches them.
func (c *Cache[T]) Set(ctx context.Context, key string, v T, opts ...SetOption) error {
	if err := c.check(key); err != nil {
		return err
	}
	cfg, err := c.s.setConfig(opts)
	if err != nil {
		return err
	}
	data, err := c.encode(key, v, false, 0)
	if err != nil {
		return err
	}
	if err := c.write(ctx, key, c.storeCmd(key, data, c.hardTTL(cfg.ttl))); err != nil {
		return fmt.Errorf("cache: set %q: %w", key, err)
	}
	return nil
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
	cmds := make(rueidis.Commands, len(keys))
	for i, key := range keys {
		cmds[i] = c.redis.B().Del().Key(c.prefix + key).Build().Pin() // see getCmd
	}
	var first error
	for i, err := range c.writeMany(ctx, keys, cmds) {
		if err != nil && first == nil {
			first = fmt.Errorf("cache: delete %q: %w", keys[i], err)
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
//   - on a miss one goroutine per process asks for the key's load lease
//     (singleflight), and one process of all that share the Redis deployment
//     gets it and runs loader; the others wait for the value to land in
//     Redis (woken by its invalidation), or take over if the lease lapses.
//     Each caller waits until its own ctx ends, which does not cancel the
//     load (Options.DisableStampedeLock turns the lease off). The value is
//     stored in Redis with the lease released in the same script; a loader's
//     ErrNotFound is stored as absent for Options.NegativeTTL; other errors
//     are returned and not stored. A loader's panic is re-raised in every
//     waiting goroutine.
//
// When Redis fails (or the breaker is open) Fetch answers from the loader.
func (c *Cache[T]) Fetch(ctx context.Context, key string, loader Loader[T]) (T, error) {
	var zero T
	if err := c.check(key); err != nil {
		return zero, err
	}
	now := c.now()
	if it, sh := c.localLookup(key, now); it != nil {
		c.localHit(sh)
		return c.serve(key, it, now, loader)
	}
	since := c.writes.stamp()
	var into item[T]
	it, err := c.readRemote(ctx, key, now, true, &into)
	if err == nil && it != nil && now < it.hardAt {
		c.remoteHit()
		return c.serve(key, it, now, loader)
	}
	// A miss, or Redis is failing: fail open to the loader.
	c.miss()
	return c.load(ctx, key, loader, since, !redisAnswered(err))
}

// FetchMany returns the values of keys that exist, loading the missing ones
// with one call of loader. Local hits come first; the other keys are read
// from Redis in one round trip per cluster slot group; the keys found in
// neither (or undecodable) go to one LoadMany call, and its results are
// stored per key in one pipeline, keys absent from its result as absent for
// Options.NegativeTTL. Keys that do not exist are missing from the map.
// Duplicate keys are read once.
//
// Values within the stale window are returned (without ErrStale) and
// refreshed in the background, one key at a time, like XFetch's early
// refreshes. When Redis fails every key not found locally is loaded. A loader
// error is returned with the values found in the cache so far; it is not
// cached. Unlike Fetch, concurrent FetchMany calls do not share loads, take
// no cross-process lease, and LoadMany runs under the caller's ctx (bounded
// by Options.LoadTimeout).
func (c *Cache[T]) FetchMany(ctx context.Context, keys []string, loader BatchLoader[T]) (map[string]T, error) {
	found := make(map[string]T, len(keys))
	remote := make([]string, 0, len(keys))
	seen := make(map[string]struct{}, len(keys))
	now := c.now()
	for _, key := range keys {
		if err := c.check(key); err != nil {
			return nil, err
		}
		if _, dup := seen[key]; dup {
			continue
		}
		seen[key] = struct{}{}
		if it, sh := c.localLookup(key, now); it != nil && now < it.softAt {
			c.localHit(sh)
			c.collect(found, key, it, now, loader)
			continue
		}
		remote = append(remote, key)
	}
	items, err := c.readRemoteMany(ctx, remote, now)
	if err != nil {
		items = nil // Redis is failing: fail open to the loader
	}
	missing := remote[:0]
	for i, key := range remote {
		if err == nil && items[i] != nil && now < items[i].hardAt {
			c.remoteHit()
			c.collect(found, key, items[i], now, loader)
			continue
		}
		c.miss()
		missing = append(missing, key)
	}
	if len(missing) == 0 {
		return found, nil
	}
	return found, c.loadMany(ctx, missing, loader, found, !redisAnswered(err))
}

// Put writes v through: first to the source of truth with w, then to the
// cache. If w fails the cache is not touched and w's error is returned. If
// the cache write fails the key is deleted, so that no stale value stays
// cached, and the error is returned (joined with the delete's error if that
// failed too).
func (c *Cache[T]) Put(ctx context.Context, key string, v T, w Writer[T], opts ...SetOption) error {
	if err := c.check(key); err != nil {
		return err
	}
	if err := w.Write(ctx, key, v); err != nil {
		return err
	}
	if err := c.Set(ctx, key, v, opts...); err != nil {
		if delErr := c.Delete(ctx, key); delErr != nil {
			return errors.Join(err, delErr)
		}
		return err
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
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}

// invalidationSink receives the hub's invalidations for the Cache's prefix.
type invalidationSink[T any] struct{ c *Cache[T] }

func (s invalidationSink[T]) Invalidate(key string) {
	if s.c.local.invalidate(key[len(s.c.prefix):]) {
		s.c.stats.invalidations.Add(1)
		s.c.s.observer.OnInvalidation(false)
	}
}

func (s invalidationSink[T]) InvalidateAll() {
	s.c.local.invalidateAll()
	s.c.stats.invalidations.Add(1)
	s.c.s.observer.OnInvalidation(true)
}
