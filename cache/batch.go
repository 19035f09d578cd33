package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// collect adds key's value to found unless it is a cached absence, starting
// a background refresh when the item is stale or due for an early refresh.
func (c *Cache[T]) collect(found map[string]T, key string, it *item[T], now int64, loader BatchLoader[T]) {
	if v, err := c.serve(key, it, now, batchAsLoader[T]{loader}); err == nil || errors.Is(err, ErrStale) {
		found[key] = v
	}
}

// loadMany loads keys with one LoadMany call, adds what it found to found and
// stores every key's result in one pipeline, unless redisFailed (reading
// them failed: the store would wait on the failing Redis as well).
func (c *Cache[T]) loadMany(ctx context.Context, keys []string, loader BatchLoader[T], found map[string]T, redisFailed bool) error {
	lctx, cancel := context.WithTimeout(ctx, c.s.loadTimeout)
	defer cancel()
	start := time.Now()
	values, err := loader.LoadMany(lctx, keys)
	took := time.Since(start)
	c.stats.loads.Add(1)
	c.s.observer.OnLoad(took, err)
	if err != nil && !errors.Is(err, ErrNotFound) {
		c.stats.loadErrors.Add(1)
		return fmt.Errorf("cache: load %d keys: %w", len(keys), err)
	}
	stored := make([]string, 0, len(keys))
	cmds := make(rueidis.Commands, 0, len(keys))
	for _, key := range keys {
		v, ok := values[key]
		if ok {
			found[key], _ = c.deliver(&item[T]{value: v})
		}
		if redisFailed {
			continue
		}
		var data []byte
		var ttl time.Duration
		switch {
		case ok:
			data, err = c.encode(key, v, false, took)
			ttl = c.hardTTL(c.s.ttl)
		case c.s.negativeTTL > 0:
			data, err = c.encode(key, v, true, 0)
			ttl = c.jittered(c.s.negativeTTL)
		default:
			continue
		}
		if err == nil {
			stored = append(stored, key)
			cmds = append(cmds, c.storeCmd(key, data, ttl))
		}
	}
	if len(cmds) > 0 {
		c.writeMany(ctx, stored, cmds) // failures to store do not fail the fetch
	}
	return nil
}

// batchAsLoader refreshes one key of a FetchMany with its BatchLoader.
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
