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
}

// denial is an immutable record of one denied decision.
type denial struct {
	until   time.Time // when the denied cost could be allowed
	resetAt time.Time
	cost    int
	res     Result
}

func newLocalDenyCache(max int) *localDenyCache {
	return &localDenyCache{max: int64(max)}
}

// lookup returns a local denial of a request of cost n for key at now, if one
// stands.
func (c *localDenyCache) lookup(key string, n int, now time.Time) (Result, bool) {
	v, ok := c.entries.Load(key)
	if !ok {
		return Result{}, false
	}
	d := v.(*denial)
	if !now.Before(d.until) {
		if c.entries.CompareAndDelete(key, d) {
			c.size.Add(-1)
		}
		return Result{}, false
	}
	if n < d.cost {
		return Result{}, false
	}
	res := d.res
	res.RetryAfter = d.until.Sub(now)
	res.ResetAfter = max(d.resetAt.Sub(now), res.RetryAfter)
	res.Source = FromLocalDenyCache
	return res, true
}

// remember records that Redis denied a request of cost n for key at now.
func (c *localDenyCache) remember(key string, n int, res Result, now time.Time) {
	d := &denial{until: now.Add(res.RetryAfter), resetAt: now.Add(res.ResetAfter), cost: n, res: res}
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
func (c *localDenyCache) evict(now time.Time) {
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
		if !now.Before(v.(*denial).until) {
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
