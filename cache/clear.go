package cache

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/typecache/typecache/internal/rediscmd"
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
	if c.closed.Load() {
		return ErrClosed
	}
	if !c.breaker.Allow(c.generationKey) {
		return ErrUnavailable
	}
	rctx, done := c.deadline.bound(ctx, c.now())
	_, err := clearScript.Exec(rctx, c.redis, rediscmd.Plain(c.redis), []string{c.generationKey}, nil)
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
// The generation is forgotten before the shards' generations move: a read
// that noted its shard's generation after they moved uses the new
// generation, and one that noted it before cannot insert what it read.
func (c *Cache[T]) forgetGeneration() {
	c.generations.forget()
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
	if gen := c.generations.known.Load(); gen != nil {
		return *gen, nil
	}
	if !c.breaker.Allow(c.generationKey) {
		return "", errCircuitOpen
	}
	epoch := c.generations.begin()
	msg, err := generationScript.Exec(rctx, c.redis, c.conn.DoTracked, []string{c.generationKey}, nil)
	c.breaker.Record(ctx, c.generationKey, err)
	if err != nil {
		return "", err
	}
	gen, _ := msg.ToString()
	if _, err := strconv.ParseUint(gen, 10, 64); err != nil || len(gen) != 16 {
		return "", fmt.Errorf("cache: unexpected generation %v", msg)
	}
	if c.conn.Tracking() {
		c.generations.learn(epoch, gen)
	}
	return gen, nil
}

// generationCell is the cache's generation as this process knows it.
// A read of the generation notes the epoch before it is sent (begin) and
// keeps its reply only if no forget came in between (learn), so a reply
// that an invalidation overtook is never kept.
type generationCell struct {
	known atomic.Pointer[string] // nil while unknown

	mu    sync.Mutex
	epoch uint64 // moved by every forget
}

func (g *generationCell) begin() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.epoch
}

func (g *generationCell) learn(epoch uint64, gen string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.epoch == epoch {
		g.known.Store(&gen)
	}
}

func (g *generationCell) forget() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.epoch++
	g.known.Store(nil)
}
