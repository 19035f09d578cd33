package ratelimit

import (
	"sync"
	"sync/atomic"
	"time"
)

// localDenyCache remembers keys that Redis denied until a known time, so a
// process under attack does not spend a round trip on every request it is
// going to deny anyway. Reads are lock-free (sync.Map), so the denied path
// stays cheap when many goroutines hammer one key.
//
// A denial of cost n until T stands for every cost ≥ n until T: quota only
// grows with time and shrinks when others spend it, so Redis would deny such
// a request as well — unless someone calls Reset meanwhile. Cheaper requests
// still go to Redis.
type localDenyCache struct {
	entries  sync.Map // key → *denial
	size     atomic.Int64
	max      int64
	evicting sync.Mutex
	// clock reads the monotonic clock only (time.Since), half the cost of
	// time.Now: the denied path is mostly this call.
	clock func() time.Duration
}

// denial is an immutable record of one denied decision; times are on the
// cache's clock.
type denial struct {
	until   time.Duration // when the denied cost could be allowed
	resetAt time.Duration
	cost    int
	res     Result
}

func newLocalDenyCache(max int) *localDenyCache {
	origin := time.Now()
	return &localDenyCache{max: int64(max), clock: func() time.Duration { return time.Since(origin) }}
}

// lookup returns a local denial of a request of cost n for key, if one
// stands.
func (c *localDenyCache) lookup(key string, n int) (Result, bool) {
	v, ok := c.entries.Load(key)
	if !ok {
		return Result{}, false
	}
	d := v.(*denial)
	now := c.clock()
	if now >= d.until {
		if c.entries.CompareAndDelete(key, d) {
			c.size.Add(-1)
		}
		return Result{}, false
	}
	if n < d.cost {
		return Result{}, false
	}
	res := d.res
	res.RetryAfter = d.until - now
	res.ResetAfter = max(d.resetAt-now, res.RetryAfter)
	res.Source = FromLocalDenyCache
	return res, true
}

// remember records that Redis denied a request of cost n for key just now.
func (c *localDenyCache) remember(key string, n int, res Result) {
	now := c.clock()
	d := &denial{until: now + res.RetryAfter, resetAt: now + res.ResetAfter, cost: n, res: res}
	if _, loaded := c.entries.Swap(key, d); !loaded && c.size.Add(1) > c.max {
		c.evict(now)
	}
}

// forget drops key's denial.
func (c *localDenyCache) forget(key string) {
	if _, loaded := c.entries.LoadAndDelete(key); loaded {
		c.size.Add(-1)
	}
}

// evict brings the cache back under 90% of its bound: expired denials first,
// then arbitrary ones (sync.Map's order). Dropping a denial only costs a
// round trip later. One goroutine evicts at a time; the others go on, so the
// bound can be exceeded by the number of concurrent inserts.
func (c *localDenyCache) evict(now time.Duration) {
	if !c.evicting.TryLock() {
		return
	}
	defer c.evicting.Unlock()
	target := c.max - c.max/10
	drop := func(key, v any) {
		if c.entries.CompareAndDelete(key, v) {
			c.size.Add(-1)
		}
	}
	c.entries.Range(func(key, v any) bool {
		if now >= v.(*denial).until {
			drop(key, v)
		}
		return true
	})
	c.entries.Range(func(key, v any) bool {
		if c.size.Load() <= target {
			return false
		}
		drop(key, v)
		return true
	})
}
