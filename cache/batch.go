package cache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/tier"
	"github.com/typecache/typecache/internal/transport"
)

// FetchMany returns the values of keys that exist, loading the missing ones
// with one call of loader. Local hits come first; the other keys are read
// from Redis in one round trip per cluster slot group, and the reads that
// find a key missing take its load lease, as Fetch's do. The keys whose
// leases this call won go to one LoadMany call, and their results are
// stored per key in one pipeline (keys absent from its result as absent
// for Options.NegativeTTL); only then does it wait for keys that other
// callers are loading, never while holding leases. Keys being fetched by a
// concurrent Fetch or FetchMany of this process are joined, not loaded
// twice; loads run detached from ctx, as Fetch's do. Keys that do not exist
// are missing from the map. Duplicate keys are read once.
//
// Values within the stale window are returned (without ErrStale) and
// refreshed in the background, one key at a time, like XFetch's early
// refreshes. When Redis fails every key not found locally is loaded,
// without storing. A loader error is returned with the values found so far;
// it is not cached.
func (c *Cache[T]) FetchMany(ctx context.Context, keys []string, loader BatchLoader[T]) (map[string]T, error) {
	if isNil[T](loader) {
		return nil, fmt.Errorf("%w: FetchMany needs a BatchLoader, got nil", ErrInvalidArgument)
	}
	if err := c.checkAll("FetchMany", keys); err != nil {
		return nil, err
	}
	found := make(map[string]T, len(keys))
	now := c.now()
	var led []string
	var ledFlights, joined []*flight[T]
	var joinedKeys []string
	for _, key := range c.localFirst(keys, now, func(key string, it *item[T]) { c.collect(found, key, it, now, loader) }) {
		f, leader := c.flights.join(key)
		if leader {
			led, ledFlights = append(led, key), append(ledFlights, f)
		} else {
			joined, joinedKeys = append(joined, f), append(joinedKeys, key)
		}
	}
	if len(led) > 0 {
		f, k, err := c.leadMany(ctx, led, ledFlights, loader, found, now)
		if err != nil {
			return found, err
		}
		joined, joinedKeys = append(joined, f...), append(joinedKeys, k...)
	}
	var first error
	single := batchAsLoader[T]{loader}
	for i, f := range joined {
		key := joinedKeys[i]
		select {
		case <-f.done:
		case <-ctx.Done():
			return found, fmt.Errorf("cache: fetch %d keys: %w", len(keys), context.Cause(ctx))
		}
		var v T
		var err error
		if f.retry {
			v, err = c.fetchRemote(ctx, key, single, now)
		} else {
			v, err = c.deliverOutcome(key, f.outcome, now, single)
		}
		switch {
		case err == nil || errors.Is(err, ErrStale):
			found[key] = v
		case errors.Is(err, ErrNotFound):
		case first == nil:
			first = err
		}
	}
	return found, first
}

// GetMany returns the values of keys that are cached: local hits first,
// then one read of the others from Redis, one round trip per cluster node.
// Keys that are absent, cached as absent, past their TTL (the stale window
// is for Fetch) or hold bytes that do not decode are missing from the map;
// nothing is loaded and nothing is cached as absent. A Redis error fails
// the call as a whole (ErrUnavailable while the breaker is open).
// Duplicate keys are read once.
func (c *Cache[T]) GetMany(ctx context.Context, keys []string) (map[string]T, error) {
	if err := c.checkAll("GetMany", keys); err != nil {
		return nil, err
	}
	found := make(map[string]T, len(keys))
	now := c.now()
	remote := c.localFirst(keys, now, func(key string, it *item[T]) { c.collectFresh(found, key, it) })
	if len(remote) == 0 {
		return found, nil
	}
	results, err := c.readMany(ctx, remote, readOnly, nil, now)
	if err != nil {
		return nil, err
	}
	for i, key := range remote {
		if it := results[i].item; results[i].state == stateHit && now < it.softAt {
			c.remoteHit()
			c.collectFresh(found, key, it)
			continue
		}
		c.miss(key)
	}
	return found, nil
}

// collectFresh adds key's value to found unless it is a cached absence.
func (c *Cache[T]) collectFresh(found map[string]T, key string, it *item[T]) {
	if v, err := c.deliver(it); err == nil {
		found[key] = v
	}
}

// SetMany stores every value of values, as Set does, in one pipeline: one
// round trip per cluster node. Each value's TTL is WithTTL's, else
// Options.TTLFunc's, else Options.TTL. When a value cannot be encoded
// (ErrTooLarge, a codec error) nothing is written. Otherwise every key is
// written, and the error of the first key (in sorted order) that failed is
// returned, wrapped with its key. Read-your-writes holds as for Set.
func (c *Cache[T]) SetMany(ctx context.Context, values map[string]T, opts ...SetOption) error {
	keys := slices.Sorted(maps.Keys(values))
	if err := c.checkAll("SetMany", keys); err != nil {
		return err
	}
	cfg, err := c.o.setConfig(opts)
	if err != nil {
		return err
	}
	ws := make([]write, len(keys))
	for i, key := range keys {
		if ws[i], err = c.setWrite(key, values[key], cfg); err != nil {
			return err
		}
	}
	errs, _ := c.writeMany(ctx, ws)
	for i, err := range errs {
		if err != nil {
			return keyErr("set", keys[i], err)
		}
	}
	return nil
}

// localFirst hands each key that the local tier holds fresh to hit, and
// returns the others, each once.
func (c *Cache[T]) localFirst(keys []string, now int64, hit func(key string, it *item[T])) []string {
	rest := make([]string, 0, len(keys))
	seen := make(map[string]struct{}, len(keys))
	for _, key := range keys {
		if _, dup := seen[key]; dup {
			continue
		}
		seen[key] = struct{}{}
		if it, sh := c.localLookup(key, now); it != nil && now < it.softAt {
			c.localHit(sh)
			hit(key, it)
			continue
		}
		rest = append(rest, key)
	}
	return rest
}

// checkAll is check for every key of a call named op.
func (c *Cache[T]) checkAll(op string, keys []string) error {
	for _, key := range keys {
		if err := c.check(key); err != nil {
			return fmt.Errorf("cache: %s: key %q: %w", op, key, err)
		}
	}
	return nil
}

// leadMany reads the keys whose flights this FetchMany leads, collects the
// hits into found and lands their flights, and hands the others to a
// detached resolveMany; it returns those flights for the caller to wait on.
func (c *Cache[T]) leadMany(ctx context.Context, keys []string, flights []*flight[T], loader BatchLoader[T], found map[string]T, now int64) ([]*flight[T], []string, error) {
	tokens := make([]string, len(keys))
	for i := range tokens {
		tokens[i] = newToken()
	}
	results, readErr := c.readMany(ctx, keys, readOrLease, tokens, now)
	if readErr != nil && ctx.Err() != nil { // the caller gave up, not Redis
		for i, key := range keys {
			c.flights.land(key, flights[i], outcome[T]{retry: true})
		}
		return nil, nil, fmt.Errorf("cache: fetch %d keys: %w", len(keys), context.Cause(ctx))
	}
	var rest []int
	for i, key := range keys {
		if readErr == nil && results[i].state == stateHit {
			it := results[i].item
			c.flights.land(key, flights[i], outcome[T]{item: it, hit: true})
			c.remoteHit()
			c.collect(found, key, it, now, loader)
			continue
		}
		rest = append(rest, i)
	}
	if len(rest) == 0 {
		return nil, nil, nil
	}
	pick := func(i int) int { return rest[i] }
	restKeys, restTokens, restFlights := make([]string, len(rest)), make([]string, len(rest)), make([]*flight[T], len(rest))
	var restResults []readResult[T]
	for i := range rest {
		restKeys[i], restTokens[i], restFlights[i] = keys[pick(i)], tokens[pick(i)], flights[pick(i)]
		if readErr == nil {
			restResults = append(restResults, results[pick(i)])
		}
	}
	if !c.refreshes.enter(&c.background) {
		for i, key := range restKeys {
			c.flights.land(key, restFlights[i], outcome[T]{err: ErrClosed})
		}
		return restFlights, restKeys, nil
	}
	go func() {
		defer c.background.Done()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout)
		defer cancel()
		c.resolveMany(lctx, restKeys, restTokens, restResults, restFlights, loader)
	}()
	return restFlights, restKeys, nil
}

// resolveMany is resolve for a batch: it loads the keys whose lease the
// batch's read won (or all of them, without storing, when that read failed:
// results is nil) in one LoadMany call, lands their flights, and only then
// resolves the others one by one, concurrently (waiting for other callers'
// loads, loading over undecodable bytes).
func (c *Cache[T]) resolveMany(ctx context.Context, keys, tokens []string, results []readResult[T], flights []*flight[T], loader BatchLoader[T]) {
	var load []string
	var loadLeases []lease
	var loadFlights []*flight[T]
	var others []int
	for i, key := range keys {
		switch {
		case results == nil:
			load, loadLeases, loadFlights = append(load, key), append(loadLeases, lease{}), append(loadFlights, flights[i])
		case results[i].state == stateLeased:
			load, loadLeases, loadFlights = append(load, key), append(loadLeases, lease{tokens[i], results[i].gen}), append(loadFlights, flights[i])
		default:
			others = append(others, i)
		}
	}
	if len(load) > 0 {
		for i, out := range c.loadMany(ctx, load, loadLeases, loader) {
			c.flights.land(load[i], loadFlights[i], out)
		}
	}
	var wg sync.WaitGroup
	single := batchAsLoader[T]{loader}
	for _, i := range others {
		wg.Go(func() {
			c.flights.land(keys[i], flights[i], c.resolve(ctx, keys[i], tokens[i], results[i], nil, single))
		})
	}
	wg.Wait()
}

// loadMany runs one LoadMany for keys and stores each result under the
// lease leases[i] (if it has a token), in one pipeline. It returns each
// key's outcome.
func (c *Cache[T]) loadMany(ctx context.Context, keys []string, leases []lease, loader BatchLoader[T]) (outs []outcome[T]) {
	outs = make([]outcome[T], len(keys))
	stopExtending := c.keepLeases(ctx, keys, leases)
	defer func() {
		stopExtending()
		if p := recover(); p != nil {
			c.finishLeases(ctx, keys, leases, nil)
			for i := range outs {
				outs[i] = outcome[T]{panicked: true, panicVal: p}
			}
		}
	}()
	start := time.Now()
	values, err := loader.LoadMany(ctx, keys)
	took := time.Since(start)
	c.loaded(keys, took, err)
	if err != nil && !errors.Is(err, ErrNotFound) {
		c.stats.loadErrors.Add(1)
		c.finishLeases(ctx, keys, leases, nil)
		err = fmt.Errorf("cache: load %d keys: %w", len(keys), err)
		for i := range outs {
			outs[i] = outcome[T]{err: err}
		}
		return outs
	}
	results := make([]loaded[T], len(keys))
	for i, key := range keys {
		v, ok := values[key]
		results[i] = loaded[T]{value: v, absent: !ok, took: took}
		outs[i] = outcome[T]{item: &item[T]{key: key, value: v, absent: !ok}}
	}
	c.finishLeases(ctx, keys, leases, results)
	return outs
}

// readMany is read for many keys, in mode with tokens[i] (nil for
// readOnly): one tracked transaction per cluster slot, all in one pipeline,
// so that rueidis sends each node its part in one round trip. It fails as
// a whole on the first error. Reads that may be followed by a load
// (readOrLease) leave the loader half of ctx's time.
func (c *Cache[T]) readMany(ctx context.Context, keys []string, mode readMode, tokens []string, now int64) ([]readResult[T], error) {
	var rctx context.Context
	var done context.CancelFunc
	if mode == readOnly {
		rctx, done = c.deadline.bound(ctx, now)
	} else {
		rctx, done = c.deadline.boundBeforeLoad(ctx, now)
	}
	defer done()
	// The tier's tickets before the cache's generation, as in readVia.
	tickets := make([]tier.Ticket, len(keys))
	for i, key := range keys {
		tickets[i] = c.localTicket(key)
	}
	gen, err := c.currentGeneration(ctx, rctx)
	var results []readResult[T]
	if err == nil {
		b := readBatch{caller: ctx, keys: keys, mode: mode, tokens: tokens, tickets: tickets, gen: gen, now: now}
		var noScript bool
		results, noScript, err = c.readBatches(rctx, b, readScript.EvalSha)
		if err == nil && noScript {
			// The first reads since the server started: send them all again
			// with the script's text.
			results, _, err = c.readBatches(rctx, b, readScript.Eval)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cache: get %d keys: %w", len(keys), err)
	}
	return results, nil
}

// readBatch is what readBatches reads: keys in mode with tokens (nil for
// none) in the cache generation gen; tickets are the keys' tickets of the
// local tier, taken before gen.
type readBatch struct {
	caller  context.Context // the caller's context, for the breaker
	keys    []string
	mode    readMode
	tokens  []string
	tickets []tier.Ticket
	gen     string
	now     int64
}

// readBatches sends readMany's transactions, built with cmd (EVALSHA or
// EVAL). noScript reports that the server did not know the script.
func (c *Cache[T]) readBatches(ctx context.Context, rb readBatch, cmd func(rueidis.Client, []string, []string) rueidis.Completed) (results []readResult[T], noScript bool, err error) {
	bySlot := map[uint16]int{}
	var batches []transport.TrackedBatch
	var members [][]int
	keys := rb.keys
	cluster := c.redis.Mode() == rueidis.ClientModeCluster
	for i, key := range keys {
		slot := uint16(0)
		if cluster {
			slot = keyspace.Slot(key)
		}
		b, ok := bySlot[slot]
		if !ok {
			b = len(batches)
			bySlot[slot] = b
			batches = append(batches, transport.TrackedBatch{SlotKey: c.space.Key(valueKind, key)})
			members = append(members, nil)
		}
		token := ""
		if rb.tokens != nil {
			token = rb.tokens[i]
		}
		batches[b].Cmds = append(batches[b].Cmds, cmd(c.redis, c.keysOf(key), c.readArgs(rb.mode, token, rb.gen)))
		members[b] = append(members[b], i)
	}
	for _, batch := range batches {
		if !c.breaker.Allow(batch.SlotKey) {
			return nil, false, errCircuitOpen // readMany names the call
		}
	}
	sent := wallClock.read()
	replies, errs := c.conn.DoTrackedBatches(ctx, batches...)
	for b, batch := range batches {
		c.breaker.Record(rb.caller, batch.SlotKey, errs[b])
	}
	results = make([]readResult[T], len(keys))
	for b, batch := range members {
		if errs[b] != nil {
			return nil, false, errs[b]
		}
		for j, i := range batch {
			msg := replies[b][j]
			if err := msg.Error(); rediscmd.IsNoScript(err) {
				noScript = true
				continue
			} else if err != nil {
				return nil, false, err
			}
			if results[i], err = c.settle(keys[i], msg, rb.tickets[i], rb.now, sent, nil); err != nil {
				return nil, false, err
			}
			results[i].gen = rb.gen
		}
	}
	return results, noScript, nil
}

// collect adds key's value to found unless it is a cached absence, starting
// a background refresh when the item is stale or due for an early refresh.
func (c *Cache[T]) collect(found map[string]T, key string, it *item[T], now int64, loader BatchLoader[T]) {
	if v, err := c.serve(key, it, now, batchAsLoader[T]{loader}); err == nil || errors.Is(err, ErrStale) {
		found[key] = v
	}
}

// batchAsLoader loads one key of a FetchMany with its BatchLoader.
type batchAsLoader[T any] struct{ batch BatchLoader[T] }

func (l batchAsLoader[T]) Load(ctx context.Context, key string) (T, error) {
	values, err := l.batch.LoadMany(ctx, []string{key})
	if v, ok := values[key]; ok && err == nil {
		return v, nil
	}
	var zero T
	if err == nil {
		err = ErrNotFound
	}
	return zero, err
}
