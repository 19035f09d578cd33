package cache

import (
	"context"
	"fmt"
	"sync"
)

// refreshes tracks the background refreshes of a Cache: at most one per key,
// none once the Cache is closing, and the last failure of each key's refresh
// so that stale values can be returned with it.
type refreshes struct {
	mu       sync.Mutex
	closing  bool
	running  map[string]struct{}
	failures map[string]error // bounded by maxRefreshFailures
}

// maxRefreshFailures bounds the failures remembered; when full the memory is
// cleared, which only delays reporting ErrStale by one refresh.
const maxRefreshFailures = 1024

func (r *refreshes) init() {
	r.running = make(map[string]struct{})
	r.failures = make(map[string]error)
}

// start claims the refresh of key and counts it in wg; false when a refresh
// of key runs or the Cache is closing. wg.Add happens under the lock that
// close takes, so it never races with Close's wg.Wait.
func (r *refreshes) start(key string, wg *sync.WaitGroup) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, busy := r.running[key]; busy || r.closing {
		return false
	}
	r.running[key] = struct{}{}
	wg.Add(1)
	return true
}

// enter counts a load that callers wait for in wg, so that Close waits for
// it too; false when the Cache is closing. Like start, it adds to wg under
// the lock that close takes.
func (r *refreshes) enter(wg *sync.WaitGroup) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	wg.Add(1)
	return true
}

// finish ends key's refresh and remembers its failure (nil clears it).
func (r *refreshes) finish(key string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, key)
	if err == nil {
		delete(r.failures, key)
		return
	}
	if len(r.failures) >= maxRefreshFailures {
		clear(r.failures)
	}
	r.failures[key] = err
}

// failure returns the error of key's last refresh, if it failed.
func (r *refreshes) failure(key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures[key]
}

// close stops new refreshes from starting.
func (r *refreshes) close() {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
}

// refreshInBackground starts one refresh of key unless one runs or the
// Cache is closing. The refresh takes the key's lease although the value
// exists; when another caller holds it, that caller's load is the refresh.
// Its failure is remembered for the stale window.
func (c *Cache[T]) refreshInBackground(key string, loader keyLoader[T]) {
	if !c.refreshes.start(key, &c.background) {
		return
	}
	go func() {
		defer c.background.Done()
		ctx := c.loads.detach(context.Background(), wallClock.read())
		call := readCall{key: key, mode: leaseAlways, token: newToken(), redisKeys: c.keysOf(key)}
		res, err := c.readOne(ctx, readRequest{calls: []readCall{call}, now: c.now()}, nil)
		var out outcome[T]
		switch res.state {
		case stateFailed:
			out.err = keyErr("refresh", key, err)
			if res.sent { // the lease may be the refresh's
				c.finishLeases(ctx, []held[T]{{key: key, redisKeys: call.redisKeys, lease: lease{token: call.token}}})
			}
		case stateLeased:
			hs := []held[T]{{key: key, redisKeys: call.redisKeys, lease: lease{token: call.token, gen: res.gen}}}
			c.load(ctx, hs, loader)
			out = hs[0].out
		}
		if out.panicked {
			out.err = fmt.Errorf("cache: loader panicked: %v", out.panicVal)
		}
		c.refreshes.finish(key, out.err)
	}()
}
