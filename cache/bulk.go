package cache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// FetchMany returns the values of keys that exist, loading the missing ones
// with one call of loader. Local hits come first; the other keys are read
// from Redis in one round trip per cluster slot group, and the reads that
// find a key missing take its load lease, as Fetch's do: FetchMany resolves
// each key as Fetch does, all keys together. The keys whose leases this call
// won go to one LoadMany call, and their results are stored per key in one
// pipeline (keys absent from its result as absent for
// Options.NegativeTTL). Keys that other callers are loading wait on one
// wake-up and are read again together, one round trip per node, while the
// loads run: a key whose loader died is then leased and loaded in another
// LoadMany call, at most Options.MaxConcurrentLoads of them at a time. Keys
// being fetched by a concurrent Fetch or FetchMany of this process are
// joined, not loaded twice; loads run detached from ctx, as Fetch's do.
// Keys that do not exist are missing from the map. Duplicate keys are read
// once.
//
// Values within the stale window are returned (without ErrStale) and
// refreshed in the background, one key at a time, like XFetch's early
// refreshes. When Redis fails every key not found locally is loaded,
// without storing; not after the Close of the Cache or of its Client:
// that is ErrClosed, and the loader is not called. A loader error is returned with the values found so far;
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
	l := keyLoader[T]{many: loader}
	remote := c.localFirst(keys, now, func(key string, it *item[T]) { c.collect(found, key, it, now, l) })
	vals, errs := make([]T, len(remote)), make([]error, len(remote))
	gaveUp := c.fetch(ctx, remote, l, now, vals, errs)
	var first error
	for i, err := range errs {
		switch {
		case err == nil || errors.Is(err, ErrStale):
			found[remote[i]] = vals[i]
		case errors.Is(err, ErrNotFound), gaveUp != nil && err == gaveUp:
		case first == nil:
			first = err
		}
	}
	if gaveUp != nil {
		return found, fmt.Errorf("cache: fetch %d keys: %w", len(keys), gaveUp)
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
	calls, results := make([]readCall, len(remote)), make([]readResult[T], len(remote))
	for i, key := range remote {
		calls[i] = readCall{key: key, mode: readOnly}
	}
	c.read(ctx, readRequest{calls: calls, now: now}, results)
	for i, key := range remote {
		switch res := results[i]; {
		case res.state == stateFailed:
			return nil, fmt.Errorf("cache: get %d keys: %w", len(remote), res.err)
		case res.state == stateHit && now < res.item.softAt:
			c.readHit(key)
			c.collectFresh(found, key, res.item)
		default:
			c.miss(key)
		}
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

// collect adds key's value to found unless it is a cached absence, starting
// a background refresh when the item is stale or due for an early refresh.
func (c *Cache[T]) collect(found map[string]T, key string, it *item[T], now int64, loader keyLoader[T]) {
	if v, err := c.serve(key, it, now, loader); err == nil || errors.Is(err, ErrStale) {
		found[key] = v
	}
}
