package cache

import (
	"context"
	"errors"
	"time"

	"github.com/typecache/typecache/lock"
)

// loadGuard serialises the loads of one key across processes. Within a
// process singleflight already lets one goroutine per key reach it; the
// guard lets one process at a time past, so that a cold key costs one loader
// call in the whole fleet.
type loadGuard interface {
	// lease blocks until this process may load key, and returns the lease;
	// or until another process's load of key has ended, and returns nil:
	// the value is then read from Redis (and lease is asked again if it is
	// still missing); or until ctx ends.
	lease(ctx context.Context, key string) (loadLease, error)
}

// A loadLease is held while a load runs. Exactly one of its methods ends it.
type loadLease interface {
	// store writes data under key (the cache's key, without the prefix)
	// for ttl and gives the lease back, in one round trip when it can.
	store(ctx context.Context, key string, data []byte, ttl time.Duration) error
	// release gives the lease back without storing (the loader failed).
	release(ctx context.Context)
}

// storeFunc writes data under key for ttl as an own write.
type storeFunc func(ctx context.Context, key string, data []byte, ttl time.Duration) error

// processLocalGuard lets every process load: the guard of a Cache with
// Options.DisableStampedeLock, and the fallback when the lock fails. It is
// its own lease.
type processLocalGuard struct{ write storeFunc }

func (g processLocalGuard) lease(context.Context, string) (loadLease, error) { return g, nil }

func (g processLocalGuard) store(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	return g.write(ctx, key, data, ttl)
}

func (processLocalGuard) release(context.Context) {}

// storeNothing is the lease of a load that runs because Redis failed (Fetch
// fails open): storing would wait on the failing Redis as well.
type storeNothing struct{}

func (storeNothing) store(context.Context, string, []byte, time.Duration) error { return nil }

func (storeNothing) release(context.Context) {}

// lockGuard takes a lease per key with the lock package: the lock named
// lock.NameFor(the value's Redis key), in the value's cluster slot, so that
// the holder writes the value and releases the lock in one script. The
// others wait for the release (woken by its invalidation, no polling) and
// read the value. A lock that fails (Redis errors) falls back to loading
// without a lease: a cache must not be less available than its source.
type lockGuard struct {
	locker   *lock.Locker
	prefix   string
	fallback processLocalGuard
	ownWrite func(key string)
	waited   func() // counts LockWaits
	failed   func() // counts LockErrors
	isDown   func() bool
}

func (g *lockGuard) lease(ctx context.Context, key string) (loadLease, error) {
	if g.isDown() {
		return g.fallback, nil
	}
	name := lock.NameFor(g.prefix + key)
	l, err := g.locker.TryAcquire(ctx, name)
	switch {
	case err == nil:
		return &heldLease{guard: g, lock: l}, nil
	case errors.Is(err, lock.ErrNotAcquired):
		g.waited()
		if err := g.locker.WaitReleased(ctx, name); err != nil && ctx.Err() != nil {
			return nil, err
		} else if err != nil {
			g.failed()
			return g.fallback, nil
		}
		return nil, nil
	default:
		g.failed()
		return g.fallback, nil
	}
}

// heldLease is a lock held for one load.
type heldLease struct {
	guard *lockGuard
	lock  *lock.Lock
}

func (h *heldLease) store(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	_, err := h.lock.SetAndRelease(ctx, h.guard.prefix+key, data, ttl)
	h.guard.ownWrite(key)
	if errors.Is(err, lock.ErrNotHeld) {
		return nil // the lease lapsed during the load; the value was stored unless a newer one was there
	}
	return err
}

func (h *heldLease) release(ctx context.Context) { _ = h.lock.Release(ctx) }
