package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/rediscmd"
)

// fetchRemote answers Fetch for a key the local tier did not have: it joins
// the key's flight, or leads it. The leader reads the key and, on a miss,
// takes its load lease in the same round trip; the load runs detached from
// every caller (so that none of them cancels it for the others), and each
// caller waits until the flight lands or its own ctx ends.
func (c *Cache[T]) fetchRemote(ctx context.Context, key string, loader Loader[T], now int64) (T, error) {
	var zero T
	for {
		f, leader := c.flights.join(key)
		if leader {
			if it, err, answered := c.leadFetch(ctx, key, f, loader, now); answered {
				if it == nil {
					return zero, err
				}
				c.remoteHit()
				return c.serve(key, it, now, loader)
			}
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return zero, keyErr("fetch", key, context.Cause(ctx))
		}
		if f.retry {
			continue // the leader gave up before its read was answered
		}
		return c.deliverOutcome(key, f.outcome, now, loader)
	}
}

// leadFetch runs the first read of key's flight f in the caller's
// goroutine, under the caller's ctx (half its time, so that a stalled Redis
// leaves the loader the other half). A hit lands the flight and is
// answered here; anything else continues detached (resolve).
func (c *Cache[T]) leadFetch(ctx context.Context, key string, f *flight[T], loader Loader[T], now int64) (hit *item[T], err error, answered bool) {
	token := newToken()
	res, readErr := c.read(ctx, key, readOrLease, token, now, true, nil)
	switch {
	case readErr == nil && res.state == stateHit:
		c.flights.land(key, f, outcome[T]{item: res.item, hit: true})
		return res.item, nil, true
	case readErr != nil && ctx.Err() != nil: // the caller gave up, not Redis
		c.flights.land(key, f, outcome[T]{retry: true})
		return nil, keyErr("fetch", key, context.Cause(ctx)), true
	}
	if !c.refreshes.enter(&c.background) {
		c.flights.land(key, f, outcome[T]{err: ErrClosed})
		return nil, ErrClosed, true
	}
	go func() {
		defer c.background.Done()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout)
		defer cancel()
		c.flights.land(key, f, c.resolve(lctx, key, token, res, readErr, loader))
	}()
	return nil, nil, false
}

// deliverOutcome answers one caller of a flight.
func (c *Cache[T]) deliverOutcome(key string, out outcome[T], now int64, loader Loader[T]) (T, error) {
	if out.panicked {
		panic(out.panicVal)
	}
	var zero T
	if out.err != nil {
		return zero, out.err
	}
	if out.hit {
		c.remoteHit()
		return c.serve(key, out.item, now, loader)
	}
	c.miss(key)
	return c.deliver(out.item)
}

// resolve finishes a flight whose first read (res, or the failure readErr)
// found no usable value: it loads under the lease res granted, waits for
// another caller's load, or loads over undecodable bytes. When Redis fails
// it loads without lease and without storing (fail open: storing would wait
// on the failing Redis too). token is the flight's lease token.
func (c *Cache[T]) resolve(ctx context.Context, key, token string, res readResult[T], readErr error, loader Loader[T]) outcome[T] {
	for {
		if readErr != nil {
			return c.load(ctx, key, lease{}, loader)
		}
		mode := readOrLease
		switch res.state {
		case stateHit:
			return outcome[T]{item: res.item, hit: true}
		case stateLeased:
			return c.load(ctx, key, lease{token, res.gen}, loader)
		case stateMiss: // undecodable bytes: load over them
			mode = leaseAlways
		case stateBusy:
			if c.o.DisableStampedeLock {
				return c.load(ctx, key, lease{}, loader)
			}
			c.stats.lockWaits.Add(1)
			if c.onLeaseBusy != nil {
				c.onLeaseBusy(key)
			}
			if res, readErr = c.awaitLease(ctx, key, token); readErr != nil && ctx.Err() != nil {
				return outcome[T]{err: fmt.Errorf("cache: load %q: waiting for another caller's load: %w", key, readErr)}
			}
			continue
		}
		res, readErr = c.read(ctx, key, mode, token, c.now(), false, nil)
	}
}

// awaitLease waits while another caller holds key's lease: until an
// invalidation says the key or its guard changed, the lease's time runs out
// (its holder died), or ctx ends; then it reads again. It watches before it
// reads, so that a change between the read and the wait is not missed.
func (c *Cache[T]) awaitLease(ctx context.Context, key, token string) (readResult[T], error) {
	for {
		changed := c.waiters.watch(key)
		res, err := c.readTracked(ctx, key, token)
		if err != nil || res.state != stateBusy {
			return res, err
		}
		wait := res.wait
		if !c.conn.Tracks(c.space.Prefix()) {
			wait = min(wait, untrackedPoll) // no invalidation will come
		}
		timer := time.NewTimer(wait)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return res, context.Cause(ctx)
		}
		timer.Stop()
	}
}

// untrackedPoll is how often a waiter reads again on a client without
// client-side caching, which sends no invalidations.
const untrackedPoll = 5 * time.Millisecond

// lease is a load lease a caller holds: its token ("" for none), and the
// cache generation of the read that took it, which the loaded value is
// stored in (see scripts.go).
type lease struct {
	token string
	gen   string // decimal
}

// load runs loader for key and, when l is a lease the caller holds, stores
// the result and ends the lease (a lease without token stores nothing). A
// panic of the loader is caught and handed to every caller of the flight,
// which re-raise it; the lease is released first.
func (c *Cache[T]) load(ctx context.Context, key string, l lease, loader Loader[T]) (out outcome[T]) {
	keys, leases := []string{key}, []lease{l}
	stopExtending := c.keepLeases(ctx, keys, leases)
	defer func() {
		stopExtending()
		if p := recover(); p != nil {
			c.finishLeases(ctx, keys, leases, nil)
			out = outcome[T]{panicked: true, panicVal: p}
		}
	}()
	start := time.Now()
	v, err := loader.Load(ctx, key)
	took := time.Since(start)
	c.loaded([]string{key}, took, err)
	switch {
	case err == nil:
		c.finishLeases(ctx, keys, leases, []loaded[T]{{value: v, took: took}})
		return outcome[T]{item: &item[T]{key: key, value: v}}
	case errors.Is(err, ErrNotFound):
		c.finishLeases(ctx, keys, leases, []loaded[T]{{absent: true}})
		return outcome[T]{item: &item[T]{key: key, absent: true}}
	default:
		c.stats.loadErrors.Add(1)
		c.finishLeases(ctx, keys, leases, nil)
		return outcome[T]{err: keyErr("load", key, err)}
	}
}

// loaded is a loader's result for one key.
type loaded[T any] struct {
	value  T
	absent bool
	took   time.Duration
}

// finishLeases ends the leases leases[i] of keys[i] (those with a token):
// it stores results[i] (an absence only with negative caching) in the
// lease's generation, for the value's lifetime (see Options.TTLFunc), or
// releases the lease when results is nil, the value cannot be encoded or
// its lifetime is too short to store; all in one pipeline. It runs under a context of its own, bounded by the Redis
// timeout: the load's may be used up, and a lease left in Redis would hold
// other processes off until it lapses. A value that cannot be stored is
// counted and reported (see Stats.StoreFailures); the load still succeeds.
func (c *Cache[T]) finishLeases(ctx context.Context, keys []string, leases []lease, results []loaded[T]) {
	var storeKeys, storeArgs, releaseKeys, releaseArgs [][]string
	var stored []string
	for i, key := range keys {
		l := leases[i]
		if l.token == "" {
			continue
		}
		if results != nil && (!results[i].absent || c.o.NegativeTTL > 0) {
			r := results[i]
			life := lifetime{hard: c.jittered(c.o.NegativeTTL)}
			if !r.absent {
				life = c.lifetimeOf(key, r.value, c.loadConfig())
			}
			if life.hard > 0 {
				data, err := c.encode(key, r.value, r.absent, life, r.took)
				if err == nil {
					storeKeys = append(storeKeys, c.keysOf(key))
					storeArgs = append(storeArgs, []string{l.token, rueidis.BinaryString(data), rediscmd.Millis(life.hard), c.markMillis, l.gen})
					stored = append(stored, key)
					continue
				}
				c.storeFailed(key, err)
			}
		}
		releaseKeys = append(releaseKeys, c.keysOf(key))
		releaseArgs = append(releaseArgs, []string{l.token, c.markMillis})
	}
	if len(storeKeys)+len(releaseKeys) == 0 {
		return
	}
	// The stores outlive the callers: only their own deadline ends them.
	ctx = context.WithoutCancel(ctx)
	fctx, done := c.deadline.bound(ctx, c.now())
	defer done()
	for i, res := range storeScript.ExecMany(fctx, c.redis, storeKeys, storeArgs) {
		n, err := res.AsInt64()
		c.breaker.Record(ctx, storeKeys[i][0], err)
		switch {
		case err != nil:
			c.storeFailed(stored[i], keyErr("store", stored[i], err))
		case n == 0:
			c.storeFailed(stored[i], ErrSuperseded)
		default:
			c.ownWrite(stored[i])
		}
	}
	if len(releaseKeys) > 0 {
		releaseScript.ExecMany(fctx, c.redis, releaseKeys, releaseArgs)
	}
}

// storeFailed counts and reports a loaded value that was not stored.
func (c *Cache[T]) storeFailed(key string, err error) {
	c.stats.storeFailures.Add(1)
	c.o.Observer.OnStoreFailure(key, err)
}

// keepLeases extends the leases leases[i] of keys[i] (those with a token)
// every third of Options.StampedeLease until the returned function is
// called, so that a long load keeps other processes waiting rather than
// loading too, while the lease of a process that dies lapses soon. Most
// loads end before the first extension: a timer, not a goroutine, waits for
// it, and stop waits for an extension in flight.
func (c *Cache[T]) keepLeases(ctx context.Context, keys []string, leases []lease) (stop func()) {
	var held, heldArgs [][]string
	for i, key := range keys {
		if leases[i].token != "" {
			held = append(held, c.keysOf(key))
			heldArgs = append(heldArgs, []string{leases[i].token, c.leaseMillis})
		}
	}
	if len(held) == 0 {
		return func() {}
	}
	var (
		mu        sync.Mutex
		stopped   bool
		extending sync.WaitGroup
		timer     *time.Timer
	)
	every := c.o.StampedeLease / 3
	extend := func() {
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		extending.Add(1)
		mu.Unlock()
		defer extending.Done()
		ectx, done := c.deadline.bound(context.WithoutCancel(ctx), c.now())
		for _, res := range extendScript.ExecMany(ectx, c.redis, held, heldArgs) {
			if res.Error() != nil {
				c.stats.lockErrors.Add(1)
			}
		}
		done()
		mu.Lock()
		if !stopped {
			timer.Reset(every)
		}
		mu.Unlock()
	}
	mu.Lock()
	timer = time.AfterFunc(every, extend)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		timer.Stop()
		mu.Unlock()
		extending.Wait()
	}
}

// newToken returns a load lease token: "t" and 16 random hex digits.
// Tokens only need to differ between concurrent loads of a key.
func newToken() string {
	return "t" + strconv.FormatUint(rand.Uint64()|1<<63, 16)
}

// refreshInBackground starts one refresh of key unless one runs or the
// Cache is closing. The refresh takes the key's lease although the value
// exists; when another caller holds it, that caller's load is the refresh.
// Its failure is remembered for the stale window.
func (c *Cache[T]) refreshInBackground(key string, loader Loader[T]) {
	if !c.refreshes.start(key, &c.background) {
		return
	}
	go func() {
		defer c.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), c.o.LoadTimeout)
		defer cancel()
		token := newToken()
		res, err := c.read(ctx, key, leaseAlways, token, c.now(), false, nil)
		var out outcome[T]
		switch {
		case err != nil:
			out.err = keyErr("refresh", key, err)
		case res.state == stateLeased:
			out = c.load(ctx, key, lease{token, res.gen}, loader)
		}
		if out.panicked {
			out.err = fmt.Errorf("cache: loader panicked: %v", out.panicVal)
		}
		c.refreshes.finish(key, out.err)
	}()
}
