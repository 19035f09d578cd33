package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
	"unsafe"

	"github.com/redis/rueidis"
)

// localLookup returns key's item from the local tier if it is there and not
// past its hard expiry, with its shard.
func (c *Cache[T]) localLookup(key string, now int64) (*item[T], *tierShard[T]) {
	if c.local == nil {
		return nil, nil
	}
	it, sh := c.local.get(key)
	if it == nil || now >= it.hardAt {
		return nil, nil
	}
	return it, sh
}

func (c *Cache[T]) localHit(sh *tierShard[T]) {
	sh.hits.Add(1)
	c.s.observer.OnHit(TierLocal)
}

func (c *Cache[T]) remoteHit() {
	c.stats.remoteHits.Add(1)
	c.s.observer.OnHit(TierRemote)
}

func (c *Cache[T]) miss() {
	c.stats.misses.Add(1)
	c.s.observer.OnMiss()
}

// deliver returns what a caller gets for it. It is small enough to be
// inlined, which saves a copy of T on the local hit path.
func (c *Cache[T]) deliver(it *item[T]) (T, error) {
	if it.absent || c.s.clone != nil {
		return c.deliverSlow(it)
	}
	return it.value, nil
}

func (c *Cache[T]) deliverSlow(it *item[T]) (T, error) {
	if it.absent {
		var zero T
		return zero, ErrNotFound
	}
	return c.s.clone(it.value), nil
}

// readRemote reads key from Redis through rueidis's client-side cache and
// puts the result in the local tier. It returns nil, nil for a key that is
// absent or holds bytes that do not decode.
//
// Two rules keep the local tier coherent. The shard's generation is read
// before the read and checked at insertion (an invalidation that overtakes
// the read wins). And a client-side cache hit for a key this process wrote
// lately may predate that write (see ownWrites), so it is read again from
// the server; the key is still tracked (a client-side cache
// hit means rueidis holds a tracked entry, and the invalidation that would
// end the tracking moves the generation), so the fresh value may enter the
// local tier.
//
// beforeLoad says that the caller loads when the read fails (Fetch), so the
// read leaves the loader half of ctx's time (redisDeadline.boundBeforeLoad).
// into, when not nil, receives an item that does not enter the local tier,
// so that a caller that only looks at the item spares its allocation.
func (c *Cache[T]) readRemote(ctx context.Context, key string, now int64, beforeLoad bool, into *item[T]) (*item[T], error) {
	if !c.breaker.allow(now) {
		return nil, ErrUnavailable
	}
	gen, since := c.generation(key), c.writes.stamp()
	var rctx context.Context
	var done context.CancelFunc
	if beforeLoad {
		rctx, done = c.deadline.boundBeforeLoad(ctx, now)
	} else {
		rctx, done = c.deadline.bound(ctx, now)
	}
	defer done()
	res := c.redis.DoCache(rctx, c.getCmd(key), MaxTTL)
	return c.settle(ctx, rctx, key, res, since, gen, now, into)
}

// readRemoteMany is readRemote for many keys, in one round trip per cluster
// slot group (rueidis's DoMultiCache), for FetchMany: it leaves the loader
// half of ctx's time. It fails as a whole on the first Redis error.
func (c *Cache[T]) readRemoteMany(ctx context.Context, keys []string, now int64) ([]*item[T], error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if !c.breaker.allow(now) {
		return nil, ErrUnavailable
	}
	gens, since := make([]uint64, len(keys)), c.writes.stamp()
	cmds := make([]rueidis.CacheableTTL, len(keys))
	for i, key := range keys {
		gens[i] = c.generation(key)
		cmds[i] = rueidis.CT(c.getCmd(key), MaxTTL)
	}
	rctx, done := c.deadline.boundBeforeLoad(ctx, now)
	defer done()
	items := make([]*item[T], len(keys))
	for i, res := range c.redis.DoMultiCache(rctx, cmds...) {
		it, err := c.settle(ctx, rctx, keys[i], res, since, gens[i], now, nil)
		if err != nil {
			return nil, fmt.Errorf("cache: get %q: %w", keys[i], err)
		}
		items[i] = it
	}
	return items, nil
}

// generation returns the local tier's generation for key (0 without a tier).
func (c *Cache[T]) generation(key string) uint64 {
	if c.local == nil {
		return 0
	}
	return c.local.generation(key)
}

// settle handles a DoCache reply for key, sent after the ownWrites stamp
// since was taken: a client-side cache hit for a key this process wrote lately
// is read again from the server (read-your-writes), and the result is
// accepted (see accept for into). ctx is the caller's, rctx the bounded one.
func (c *Cache[T]) settle(ctx, rctx context.Context, key string, res rueidis.RedisResult, since uint64, gen uint64, now int64, into *item[T]) (*item[T], error) {
	pxat := res.CachePXAT()
	switch {
	case res.IsCacheHit() && c.writes.recent(key):
		cached, cachedErr := res.ToString()
		before := c.writes.stamp()
		res, pxat = c.readFromServer(rctx, c.prefix+key)
		if fresh, err := res.ToString(); fresh == cached && (err == nil) == (cachedErr == nil) {
			// rueidis's entry holds the bytes the server had after every
			// write recorded before the re-read.
			c.writes.confirm(key, before)
		}
	case !res.IsCacheHit() && (res.Error() == nil || rueidis.IsRedisNil(res.Error())):
		c.writes.confirm(key, since) // this read's own request followed the write
	}
	return c.accept(ctx, key, res, pxat, gen, now, into)
}

// readFromServer reads key with a plain GET, bypassing rueidis's client-side
// cache, and its PTTL in the same round trip. The two are not atomic: a
// write in between moves the generation (the key is tracked), so the pair
// never enters the local tier.
func (c *Cache[T]) readFromServer(ctx context.Context, full string) (rueidis.RedisResult, int64) {
	rs := c.redis.DoMulti(ctx,
		c.redis.B().Pttl().Key(full).Build().Pin(),
		c.redis.B().Get().Key(full).Build().Pin())
	pxat := int64(-1)
	if pttl, err := rs[0].AsInt64(); err == nil && pttl >= 0 {
		pxat = time.Now().UnixMilli() + pttl // the wall clock, as rueidis's CachePXAT
	}
	return rs[1], pxat
}

// accept turns a GET reply into an item and inserts it into the local tier
// if gen still holds; ctx is the caller's, for the breaker. pxat is the
// key's expiry in unix milliseconds, -1 when unknown (no client-side
// caching, or a key without TTL): such an item is served but not kept, since
// its expiry and its tracking are not known. An item that is not kept is
// built in into when the caller passed one.
func (c *Cache[T]) accept(ctx context.Context, key string, res rueidis.RedisResult, pxat int64, gen uint64, now int64, into *item[T]) (*item[T], error) {
	s, err := res.ToString()
	c.breaker.record(ctx, err, c.now())
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// The codec must not retain or modify data (the Codec contract), so the
	// reply's string can be decoded in place.
	data := unsafe.Slice(unsafe.StringData(s), len(s))
	env, err := parseEnvelope(data)
	var v T
	if err == nil && !env.absent {
		v, err = c.s.codec.Decode(env.payload)
	}
	if err != nil {
		c.stats.decodeErrors.Add(1)
		c.s.observer.OnDecodeError(key, err)
		return nil, nil
	}
	keep := pxat >= 0
	hardAt := pxat * int64(time.Millisecond)
	if !keep {
		hardAt = now + int64(env.stale+c.s.ttl)
	}
	if c.afterRemoteRead != nil {
		c.afterRemoteRead(key)
	}
	if keep && c.local != nil {
		it := newItem(key, v, env, hardAt, c.s.beta, len(data))
		c.local.insert(it, gen, now)
		return it, nil
	}
	// Kept apart from the branch above, so that into does not escape.
	if into == nil {
		into = new(item[T])
	}
	into.init(key, v, env, hardAt, c.s.beta, len(data))
	return into, nil
}

// encode builds the envelope of v (or of an absence) for key.
func (c *Cache[T]) encode(key string, v T, absent bool, loadTime time.Duration) ([]byte, error) {
	stale := c.s.staleTTL
	if absent {
		stale = 0
	}
	data := appendEnvelopeHeader(make([]byte, 0, 64), absent, stale, loadTime)
	if !absent {
		var err error
		if data, err = c.s.codec.Append(data, v); err != nil {
			return nil, fmt.Errorf("cache: encode %q: %w", key, err)
		}
	}
	if len(data) > c.s.maxValueBytes {
		return nil, fmt.Errorf("%w: %q encodes to %d bytes, more than Options.MaxValueBytes (%d)", ErrTooLarge, key, len(data), c.s.maxValueBytes)
	}
	return data, nil
}

// jittered spreads ttl by ±Options.Jitter.
func (c *Cache[T]) jittered(ttl time.Duration) time.Duration {
	if c.s.jitter > 0 {
		ttl = time.Duration(float64(ttl) * (1 + c.s.jitter*(2*rand.Float64()-1)))
	}
	return max(ttl, time.Millisecond)
}

// hardTTL is the Redis TTL of a value fresh for about ttl: jittered, plus
// the stale window.
func (c *Cache[T]) hardTTL(ttl time.Duration) time.Duration {
	return c.jittered(ttl) + c.s.staleTTL
}

// Every command a Cache sends is pinned. rueidis puts a command back into
// its pool when a call succeeds, also when the call succeeded on a retry
// after its connection broke, while the broken connection's writer goroutine
// may still be reading the command: a data race (seen under CLIENT KILL). A
// pinned command is never recycled; it costs two small allocations per call.

// getCmd is the tracked GET of key.
func (c *Cache[T]) getCmd(key string) rueidis.Cacheable {
	return c.redis.B().Get().Key(c.prefix + key).Cache().Pin()
}

// storeCmd is the SET that stores data under key for ttl.
func (c *Cache[T]) storeCmd(key string, data []byte, ttl time.Duration) rueidis.Completed {
	return c.redis.B().Set().Key(c.prefix + key).Value(rueidis.BinaryString(data)).Px(ttl).Build().Pin()
}

// write sends one command that modifies key.
func (c *Cache[T]) write(ctx context.Context, key string, cmd rueidis.Completed) error {
	return c.writeMany(ctx, []string{key}, rueidis.Commands{cmd})[0]
}

// writeMany sends cmds[i], which modifies keys[i], in one pipeline, and then
// treats every key as written by this process (see ownWrite), even after an
// error: a write that timed out may have happened.
func (c *Cache[T]) writeMany(ctx context.Context, keys []string, cmds rueidis.Commands) []error {
	errs := make([]error, len(cmds))
	now := c.now()
	if !c.breaker.allow(now) {
		for i := range errs {
			errs[i] = ErrUnavailable
		}
		return errs
	}
	rctx, done := c.deadline.bound(ctx, now)
	defer done()
	results := c.redis.DoMulti(rctx, cmds...)
	replied := c.now()
	for i, res := range results {
		errs[i] = res.Error()
		c.breaker.record(ctx, errs[i], replied)
	}
	for _, key := range keys {
		c.ownWrite(key)
	}
	return errs
}

// ownWrite drops key from the local tier (moving its generation, so reads in
// flight do not insert the old value) and remembers the write for
// read-your-writes. An own write never enters the local tier: nothing proves
// the key is tracked, and an untracked local entry would miss the next
// write of another process.
//
// The record comes first: a read that notes the generation after the drop
// then sees the record, and one that noted it before cannot insert.
func (c *Cache[T]) ownWrite(key string) {
	c.writes.add(key)
	if c.local != nil {
		c.local.invalidate(key)
	}
}

// serve answers Fetch with an item that is not past its hard expiry.
func (c *Cache[T]) serve(key string, it *item[T], now int64, loader Loader[T]) (T, error) {
	if now < it.softAt {
		if now >= it.refreshFrom && c.earlyRefreshDue(it, now) {
			c.refreshInBackground(key, loader)
		}
		return c.deliver(it)
	}
	// Within the stale window (absences have none).
	failure := c.refreshes.failure(key)
	c.stats.staleServed.Add(1)
	c.s.observer.OnStale(failure)
	c.refreshInBackground(key, loader)
	v, _ := c.deliver(it)
	if failure != nil {
		return v, fmt.Errorf("%w: refreshing %q failed: %w", ErrStale, key, failure)
	}
	return v, nil
}

// earlyRefreshDue is XFetch's test: now − Δ·β·ln(rand) ≥ softAt, rand in (0, 1].
func (c *Cache[T]) earlyRefreshDue(it *item[T], now int64) bool {
	r := 1 - rand.Float64()
	return float64(now)-float64(it.loadTime)*c.s.beta*math.Log(r) >= float64(it.softAt)
}

// loadResult is what a shared load hands to every waiter.
type loadResult[T any] struct {
	item     *item[T]
	panicked bool
	panicVal any
}

// load runs loader for key once per process at a time and waits for the
// result until ctx ends. since is the ownWrites stamp taken before the
// caller looked for key in Redis. redisFailed says that Redis did not
// answer (see redisAnswered): the load then neither takes the lease nor
// stores its result (both would wait on the failing Redis), and is shared
// only with other such loads.
func (c *Cache[T]) load(ctx context.Context, key string, loader Loader[T], since uint64, redisFailed bool) (T, error) {
	loads := &c.loads
	if redisFailed {
		loads = &c.loadsWithoutRedis
	}
	ch := loads.DoChan(key, func() (any, error) {
		// The load may outlive every caller that gave up; Close waits for it.
		if !c.refreshes.enter(&c.background) {
			return loadResult[T]{}, ErrClosed
		}
		defer c.background.Done()
		return c.loadShared(ctx, key, loader, since, redisFailed)
	})
	var zero T
	select {
	case r := <-ch:
		res := r.Val.(loadResult[T])
		if res.panicked {
			panic(res.panicVal)
		}
		if r.Err != nil {
			return zero, r.Err
		}
		return c.deliver(res.item)
	case <-ctx.Done():
		return zero, fmt.Errorf("cache: fetch %q: %w", key, context.Cause(ctx))
	}
}

// loadShared is the load that singleflight shares between the waiters of a
// key. It runs under a context of its own (the first caller's values,
// without its cancellation, bounded by Options.LoadTimeout) so that no
// waiter giving up cancels it for the others. A panic of the loader is
// caught and handed to every waiter, which re-raises it.
//
// This is the one place where loads of a key meet across processes: the
// loadGuard's lease is held while the loader runs and ends with the store.
func (c *Cache[T]) loadShared(callerCtx context.Context, key string, loader Loader[T], since uint64, redisFailed bool) (result any, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(callerCtx), c.s.loadTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			result, err = loadResult[T]{panicked: true, panicVal: p}, nil
		}
	}()
	lease := loadLease(storeNothing{})
	if !redisFailed {
		var it *item[T]
		if it, lease, err = c.leaseOrValue(ctx, key, since); it != nil || err != nil {
			return loadResult[T]{item: it}, err
		}
	}
	stored := false
	defer func() {
		if !stored { // also when the loader panics
			c.afterLoad(ctx, lease.release)
		}
	}()
	start := time.Now()
	v, err := loader.Load(ctx, key)
	took := time.Since(start)
	c.stats.loads.Add(1)
	c.s.observer.OnLoad(took, err)
	switch {
	case err == nil:
		if data, err := c.encode(key, v, false, took); err == nil {
			stored = true
			c.afterLoad(ctx, func(ctx context.Context) {
				_ = lease.store(ctx, key, data, c.hardTTL(c.s.ttl)) // failing to store does not fail the load
			})
		}
		return loadResult[T]{item: &item[T]{key: key, value: v}}, nil
	case errors.Is(err, ErrNotFound):
		if c.s.negativeTTL > 0 {
			if data, err := c.encode(key, v, true, 0); err == nil {
				stored = true
				c.afterLoad(ctx, func(ctx context.Context) {
					_ = lease.store(ctx, key, data, c.jittered(c.s.negativeTTL))
				})
			}
		}
		return loadResult[T]{}, err
	default:
		c.stats.loadErrors.Add(1)
		return loadResult[T]{}, fmt.Errorf("cache: load %q: %w", key, err)
	}
}

// afterLoad runs finish (the store and the lease's release) with a context
// of its own, bounded by the Redis timeout: the loader may have used up the
// load's context, and a lease left in Redis would hold other processes off
// until it lapses.
func (c *Cache[T]) afterLoad(ctx context.Context, finish func(context.Context)) {
	fctx, done := c.deadline.bound(context.WithoutCancel(ctx), c.now())
	defer done()
	finish(fctx)
}

// leaseOrValue returns the lease to load key, or key's fresh value when this
// process stored it since the stamp since or another process loaded it while
// this one waited for the lease.
func (c *Cache[T]) leaseOrValue(ctx context.Context, key string, since uint64) (*item[T], loadLease, error) {
	// This process may have stored the key since this goroutine missed it
	// (a load that ended just before this one began, or a Set).
	if c.writes.writtenSince(key, since) {
		if it := c.freshInRedis(ctx, key); it != nil {
			return it, nil, nil
		}
	}
	for {
		lease, err := c.guard.lease(ctx, key)
		if err != nil {
			return nil, nil, fmt.Errorf("cache: load %q: waiting for another process: %w", key, err)
		}
		if lease != nil {
			return nil, lease, nil
		}
		// Another process loaded the key meanwhile.
		if it := c.freshInRedis(ctx, key); it != nil {
			return it, nil, nil
		}
	}
}

// freshInRedis reads key from Redis and returns it if it is fresh.
func (c *Cache[T]) freshInRedis(ctx context.Context, key string) *item[T] {
	now := c.now()
	if it, err := c.readRemote(ctx, key, now, false, nil); err == nil && it != nil && now < it.softAt {
		return it
	}
	return nil
}

// refreshInBackground starts one refresh of key unless one is running or
// the Cache is closing. The refresh joins a foreground load of the same key
// if one runs (singleflight); its failure is remembered for the stale window.
func (c *Cache[T]) refreshInBackground(key string, loader Loader[T]) {
	if !c.refreshes.start(key, &c.background) {
		return
	}
	go func() {
		defer c.background.Done()
		since := c.writes.stamp()
		r := <-c.loads.DoChan(key, func() (any, error) { return c.loadShared(context.Background(), key, loader, since, false) })
		err := r.Err
		if res := r.Val.(loadResult[T]); res.panicked {
			err = fmt.Errorf("cache: loader panicked: %v", res.panicVal)
		}
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
		c.refreshes.finish(key, err)
	}()
}
