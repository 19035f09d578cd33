package cache

import (
	"context"
	"fmt"
	"strconv"

	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/tier"
)

// Clear makes every entry of the Cache unreachable, whatever their number,
// with one write of one key: at once in this process (its local tier is
// dropped and later reads see no entry written before), and in every other
// process within the invalidation delay. Entries are not deleted; they stay
// in Redis, unreachable, until their TTL ends. Other caches, including this
// name with another Options.Version, are untouched.
//
// A load that began before Clear (in any process) never stores into the
// cleared cache: its value is returned to its callers, not served again. A
// write in another process that has not heard of the Clear yet is taken as
// made before it, unless it replaces a value written after it.
//
// Like every write, Clear is treated as done even when it fails (say on a
// timeout): this process forgets what it cached.
func (c *Cache[T]) Clear(ctx context.Context) error {
	if err := c.live(); err != nil {
		return err
	}
	if !c.breaker.Allow(c.generationKey) {
		return ErrUnavailable
	}
	rctx, done := c.deadline.bound(ctx, c.now())
	_, err := clearScript.Exec(rctx, c.redis, rediscmd.Plain(c.redis), []string{c.generationKey}, nil)
	err = c.failure(err)
	done()
	c.breaker.Record(ctx, c.generationKey, err)
	c.forgetGeneration()
	if err != nil {
		return fmt.Errorf("cache: clear: %w", err)
	}
	return nil
}

// forgetGeneration makes this process read the cache's generation again
// before its next call to Redis, and drops what it holds of the one before:
// the local tier, the flights (a load that began before may store in the
// generation before, never in the next), and the waits for leases (a lease
// of the generation before does not hold up a load in the next).
//
// The generation is forgotten before the local tier is flushed: a read
// that took its ticket of the tier after the flush uses the new generation,
// and one that took it before cannot insert what it read.
func (c *Cache[T]) forgetGeneration() {
	c.generations.InvalidateAll()
	c.flights.forgetAll()
	if c.local != nil {
		c.local.invalidateAll()
	}
	c.waiters.wakeAll()
}

// currentGeneration returns the cache's generation, in decimal as the
// scripts take it: the one this process knows, or else one read from
// Redis, which is kept when the client tracks the read (Redis then says
// when it changes: see invalidationSink). The read is bounded by rctx; ctx
// is the caller's, for the breaker.
func (c *Cache[T]) currentGeneration(ctx, rctx context.Context) (string, error) {
	if e := c.generations.Get(c.generationKey); e != nil {
		return e.Value, nil
	}
	if !c.breaker.Allow(c.generationKey) {
		return "", errCircuitOpen
	}
	tk := c.generations.Begin(c.generationKey)
	msg, err := generationScript.Exec(rctx, c.redis, c.conn.DoTracked, []string{c.generationKey}, nil)
	c.breaker.Record(ctx, c.generationKey, err)
	if err != nil {
		return "", c.failure(err)
	}
	gen, _ := msg.ToString()
	if _, err := strconv.ParseUint(gen, 10, 64); err != nil || len(gen) != generationDigits {
		return "", fmt.Errorf("cache: unexpected generation %v", msg)
	}
	if c.conn.Tracks(c.space.Prefix()) {
		e := c.generations.NewEntry(c.generationKey, tier.Meta{Weight: 1})
		e.Value = gen
		c.generations.Fill(tk, e)
	}
	return gen, nil
}
