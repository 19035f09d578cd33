package cache

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// localLookup returns key's item from the local tier if it is there and not
// past its hard expiry, with the stripe of the hit counter to pass to
// localHit. The expiry of an exact item is checked with the precise clock:
// now, from the coarse one, may lag.
func (c *Cache[T]) localLookup(key string, now int64) (*item[T], *hitStripe) {
	if c.local == nil {
		return nil, nil
	}
	it, stripe := c.local.get(key)
	if it == nil || now >= it.hardAt || it.exact && time.Now().UnixNano() >= it.hardAt {
		return nil, nil
	}
	return it, stripe
}

// localHit counts a local hit in the caller's stripe of the hit counter.
func (c *Cache[T]) localHit(stripe *hitStripe) {
	stripe.add()
	c.o.Observer.OnHit(TierLocal)
}

func (c *Cache[T]) remoteHit() {
	c.stats.remoteHits.Add(1)
	c.o.Observer.OnHit(TierRemote)
}

// readHit is remoteHit for a value of key that Get or GetMany read from
// Redis, outside any flight: it also forgets key's flight (see
// flightGroup). A load in flight began with a read that found no value, so
// it may answer with a value older than this one, and a Fetch that starts
// after this read must not join it (monotonic reads). When the read was
// tracked, the value's invalidation did that already: it reaches the
// tracking connection before the read's reply. An untracked read (no local
// tier, or a key's first read) gets no invalidation.
func (c *Cache[T]) readHit(key string) {
	c.flights.forget(key)
	c.remoteHit()
}

func (c *Cache[T]) miss(key string) {
	c.stats.misses.Add(1)
	c.o.Observer.OnMiss()
	if c.keys != nil {
		c.keys.OnMissKey(key)
	}
}

// putConflict counts a Put whose store became a delete and reports it.
func (c *Cache[T]) putConflict(key string) {
	c.stats.putConflicts.Add(1)
	if c.conflicts != nil {
		c.conflicts.OnPutConflict(key)
	}
}

// loaded counts a loader call for the keys of hs and reports it.
func (c *Cache[T]) loaded(hs []held[T], took time.Duration, err error) {
	c.stats.loads.Add(1)
	c.o.Observer.OnLoad(took, err)
	if c.keys != nil {
		for _, h := range hs {
			c.keys.OnLoadKey(h.key, took, err)
		}
	}
}

// deliver returns what a caller gets for it. It is small enough to be
// inlined, which saves a copy of T on the local hit path.
func (c *Cache[T]) deliver(it *item[T]) (T, error) {
	if it.absent || c.o.Clone != nil {
		return c.deliverSlow(it)
	}
	return it.value, nil
}

func (c *Cache[T]) deliverSlow(it *item[T]) (T, error) {
	if it.absent {
		var zero T
		return zero, ErrNotFound
	}
	return c.o.Clone(it.value), nil
}

// serve answers Fetch with an item that is not past its hard expiry.
func (c *Cache[T]) serve(key string, it *item[T], now int64, loader keyLoader[T]) (T, error) {
	if now < it.softAt {
		if now >= it.refreshFrom && c.earlyRefreshDue(it, now) {
			c.refreshInBackground(key, loader)
		}
		return c.deliver(it)
	}
	// Within the stale window (absences have none).
	failure := c.refreshes.failure(key)
	c.stats.staleServed.Add(1)
	c.o.Observer.OnStale(failure)
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
	return float64(now)-float64(it.loadTime)*c.o.EarlyRefreshBeta*math.Log(r) >= float64(it.softAt)
}
