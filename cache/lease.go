package cache

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/typecache/typecache/internal/rediscmd"
)

// The load lease: the cache's own cross-process lock of a missing key (not
// the lock package's). The read that finds a key missing takes it in the
// same script (readScript); the store of the load ends it (storeScript), a
// failed load releases it (releaseScript), a long one extends it
// (extendScript), and any write ends it (writeScript), so a write beats a
// load. Taking it is idempotent for its token: a read sent twice, or whose
// reply was lost, holds the lease it took.

// lease is a load lease a caller holds: its token ("" for none), and the
// cache generation of the read that took it, which the loaded value is
// stored in (see scripts.go).
type lease struct {
	token string
	gen   string // decimal
}

// newToken returns a load lease token: "t" and 16 random hex digits.
// Tokens only need to differ between concurrent loads of a key.
func newToken() string {
	var b [17]byte
	b[0] = 't'
	return string(strconv.AppendUint(b[:1], rand.Uint64()|1<<63, 16))
}

// held is a key's lease (a zero lease: none), once its load ended well
// what it loaded, and once it ended what its flight lands with.
type held[T any] struct {
	key       string
	redisKeys []string // keysOf(key)
	lease     lease
	result    loaded[T] // set by the load, when loaded is true
	loaded    bool
	out       outcome[T] // set by load
}

// loaded is a loader's result for one key.
type loaded[T any] struct {
	value  T
	absent bool
	took   time.Duration
}

// finishLeases ends the leases of hs (those with a token): it stores the
// result (an absence only with negative caching) in the lease's
// generation, for the value's lifetime (see Options.TTLFunc), or releases
// the lease when there is no result, the value cannot be encoded or its
// lifetime is too short to store; all in one pipeline. It runs under a
// context of its own, bounded by the Redis timeout: the load's may be used
// up, and a lease left in Redis would hold other processes off until it
// lapses. A value that cannot be stored is counted and reported (see
// Stats.StoreFailures); the load still succeeds.
func (c *Cache[T]) finishLeases(ctx context.Context, hs []held[T]) {
	var storeKeys, storeArgs, releaseKeys, releaseArgs [][]string
	var stored []string
	for _, h := range hs {
		l := h.lease
		if l.token == "" {
			continue
		}
		if r := &h.result; h.loaded && (!r.absent || c.o.NegativeTTL > 0) {
			life := lifetime{hard: c.jittered(c.o.NegativeTTL)}
			if !r.absent {
				life = c.lifetimeOf(h.key, r.value, c.loadConfig())
			}
			if life.hard > 0 {
				data, err := c.encode(h.key, r.value, r.absent, life, r.took)
				if err == nil {
					storeKeys = append(storeKeys, h.redisKeys)
					storeArgs = append(storeArgs, []string{l.token, rueidis.BinaryString(data), rediscmd.Millis(life.hard), c.markMillis, l.gen})
					stored = append(stored, h.key)
					continue
				}
				c.storeFailed(h.key, err)
			}
		}
		releaseKeys = append(releaseKeys, h.redisKeys)
		releaseArgs = append(releaseArgs, []string{l.token, c.markMillis})
	}
	if len(storeKeys)+len(releaseKeys) == 0 {
		return
	}
	// The stores outlive the callers: only their own deadline ends them.
	fctx := c.deadline.detach(ctx, c.now())
	for i, res := range c.runScript(fctx, storeScript, storeKeys, storeArgs) {
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
		c.runScript(fctx, releaseScript, releaseKeys, releaseArgs)
	}
}

// storeFailed counts and reports a loaded value that was not stored.
func (c *Cache[T]) storeFailed(key string, err error) {
	c.stats.storeFailures.Add(1)
	c.o.Observer.OnStoreFailure(key, err)
}

// keepLeases extends the leases of hs (those with a token) every third of
// Options.StampedeLease until the returned keeper is stopped, so that a
// long load keeps other processes waiting rather than loading too, while
// the lease of a process that dies lapses soon. Most loads end before the
// first extension: a timer, not a goroutine, waits for it, and the
// commands are built only when it fires. Keepers and their timers are
// pooled: a load costs no allocation for them.
func (c *Cache[T]) keepLeases(ctx context.Context, hs []held[T]) *leaseKeeper[T] {
	k, _ := c.keepers.Get().(*leaseKeeper[T])
	if k == nil {
		k = &leaseKeeper[T]{c: c}
		k.mu.Lock()
		k.timer = time.AfterFunc(c.o.StampedeLease/3, k.extend)
	} else {
		k.mu.Lock()
		k.timer.Reset(c.o.StampedeLease / 3)
	}
	k.ctx, k.hs, k.stopped = ctx, hs, false
	k.mu.Unlock()
	return k
}

// leaseKeeper extends leases while a load runs (see keepLeases).
type leaseKeeper[T any] struct {
	c         *Cache[T]
	mu        sync.Mutex
	ctx       context.Context
	hs        []held[T]
	stopped   bool
	timer     *time.Timer
	extending sync.WaitGroup
}

// extend runs when the timer fires. A keeper stopped since (back in the
// pool, or keeping another load's leases already) may see it fire late:
// then it does nothing, or extends leases that were just taken, which is
// harmless.
func (k *leaseKeeper[T]) extend() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	k.extending.Add(1)
	ctx, hs := k.ctx, k.hs
	k.mu.Unlock()
	defer k.extending.Done()
	c := k.c
	var keys, args [][]string
	for i := range hs {
		// Not the whole held: the load writes its result meanwhile.
		if rkeys, token := hs[i].redisKeys, hs[i].lease.token; token != "" {
			keys = append(keys, rkeys)
			args = append(args, []string{token, c.leaseMillis})
		}
	}
	ectx := c.deadline.detach(ctx, c.now())
	for _, res := range extendScript.ExecMany(ectx, c.redis, keys, args) {
		if res.Error() != nil {
			c.stats.lockErrors.Add(1)
		}
	}
	k.mu.Lock()
	if !k.stopped {
		k.timer.Reset(c.o.StampedeLease / 3)
	}
	k.mu.Unlock()
}

// stop ends the extensions, waiting for one in flight, and puts k back in
// the pool.
func (k *leaseKeeper[T]) stop() {
	k.mu.Lock()
	k.stopped = true
	k.timer.Stop()
	k.ctx, k.hs = nil, nil
	k.mu.Unlock()
	k.extending.Wait()
	k.c.keepers.Put(k)
}
