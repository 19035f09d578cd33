package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
)

var (
	// ErrNotAcquired is returned by TryAcquire when the lock is held elsewhere.
	ErrNotAcquired = errors.New("lock: not acquired, held elsewhere")
	// ErrNotHeld is returned by Release, Extend and SetAndRelease when the
	// lock is no longer held by this Lock (its lease lapsed, its key was
	// deleted or it was already released). It is also the cause of a lost
	// lock's Context.
	ErrNotHeld = errors.New("lock: not held")
	// ErrReleased is the cause (context.Cause) of a Lock's Context after
	// Release.
	ErrReleased = errors.New("lock: released")
	// ErrClosed is returned by a Locker's methods after Close.
	ErrClosed = errors.New("lock: locker closed")
)

// Locker hands out distributed locks stored in one Redis deployment
// (standalone or cluster). It is safe for concurrent use by multiple
// goroutines; build one per key prefix and share it. Acquire and WaitReleased
// block; all other methods make at most one round trip.
//
// A Locker subscribes to its client's invalidations of its prefix: a waiter
// reads the lock key through client-side caching and is woken when Redis
// reports that the key changed. Close removes that subscription.
type Locker struct {
	redis  rueidis.Client
	opts   Options
	wakes  *wakeRouter
	turns  *localTurns
	unsub  func()
	closed chan struct{}
	close  sync.Once
}

// New returns a Locker that stores locks through c. Zero fields of opts take
// their documented defaults; invalid fields are reported by name.
func New(c *typecache.Client, opts Options) (*Locker, error) {
	if c == nil {
		return nil, errors.New("lock: New: nil client")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	lk := &Locker{redis: c.Redis(), opts: opts, wakes: newWakeRouter(), turns: newLocalTurns(), closed: make(chan struct{})}
	lk.unsub = c.Subscribe(opts.Prefix+":", lk.wakes)
	return lk, nil
}

// Close stops listening for invalidations and makes blocked Acquire and
// WaitReleased calls return ErrClosed. Locks already held are unaffected:
// they keep being extended until released. Close is idempotent.
func (lk *Locker) Close() {
	lk.close.Do(func() {
		lk.unsub()
		close(lk.closed)
	})
}

// TryAcquire takes the lock name if it is free, in one round trip, and
// returns ErrNotAcquired at once if it is held elsewhere, or if another
// goroutine of this Locker holds it or is waiting for it (then no round
// trip is made). ctx bounds the round trip only: the returned Lock lives
// until Release or loss.
func (lk *Locker) TryAcquire(ctx context.Context, name string) (*Lock, error) {
	keys, err := lk.keysFor(name)
	if err != nil {
		return nil, err
	}
	turn, ok := lk.turns.try(keys.lock)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotAcquired, keys.lock)
	}
	l, err := lk.tryAcquire(ctx, name, keys, turn)
	if err != nil {
		lk.turns.leave(keys.lock, turn)
	}
	return l, err
}

// Acquire takes the lock name, blocking until it is free or ctx ends; then it
// returns ctx's error (or cause), wrapped. ctx bounds the wait only: the
// returned Lock lives until Release or loss, and its Context carries ctx's
// values but not its cancellation. Other goroutines' waits are unaffected by
// this one's ctx. Locks are not reentrant: a goroutine that acquires a name
// it already holds waits for itself until ctx ends.
//
// Waiting costs no polling. Goroutines of one Locker queue for the same
// name in the process, so only one of them at a time tries in Redis. That
// one is woken when Redis invalidates the lock key (release, expiry,
// extension), when the key's TTL runs out, or after
// Options.RecheckInterval at most.
func (lk *Locker) Acquire(ctx context.Context, name string) (*Lock, error) {
	keys, err := lk.keysFor(name)
	if err != nil {
		return nil, err
	}
	turn, err := lk.turns.wait(ctx, keys.lock, lk.closed)
	if err != nil {
		return nil, err
	}
	l, err := lk.acquireInTurn(ctx, name, keys, turn)
	if err != nil {
		lk.turns.leave(keys.lock, turn)
	}
	return l, err
}

// acquireInTurn is Acquire's Redis part, run by the goroutine whose turn it
// is in this process.
func (lk *Locker) acquireInTurn(ctx context.Context, name string, keys lockKeys, turn *turnQueue) (*Lock, error) {
	wake := lk.wakes.add(keys.lock)
	defer lk.wakes.remove(keys.lock, wake)
	for {
		l, err := lk.tryAcquire(ctx, name, keys, turn)
		if !errors.Is(err, ErrNotAcquired) {
			return l, err
		}
		held, wait, err := lk.observe(ctx, keys.lock, true)
		if err == nil && held {
			err = lk.await(ctx, keys.lock, wake, wait)
		}
		if err != nil {
			return nil, err
		}
	}
}

// WaitReleased blocks until the lock name is observed free, without taking
// it, or ctx ends (then it returns ctx's error or cause, wrapped). It returns
// nil at once if the lock is free.
//
// It is meant for followers that want the holder's result rather than the
// lock, such as cache readers waiting for a loader: wake, read the result,
// and call TryAcquire only if it is missing. The observation may come from
// the client-side cache and lag a change by one invalidation delay, so it is
// a hint; only TryAcquire and Acquire decide who holds the lock.
func (lk *Locker) WaitReleased(ctx context.Context, name string) error {
	keys, err := lk.keysFor(name)
	if err != nil {
		return err
	}
	wake := lk.wakes.add(keys.lock)
	defer lk.wakes.remove(keys.lock, wake)
	for {
		held, wait, err := lk.observe(ctx, keys.lock, false)
		if err != nil || !held {
			return err
		}
		if err := lk.await(ctx, keys.lock, wake, wait); err != nil {
			return err
		}
	}
}

// lockKeys are the Redis keys of one lock name; they share a hash tag.
type lockKeys struct {
	lock  string // Prefix:{name}, holds the owner's random value
	fence string // Prefix:{name}:fence, the fencing counter
}

func (lk *Locker) keysFor(name string) (lockKeys, error) {
	select {
	case <-lk.closed:
		return lockKeys{}, ErrClosed
	default:
	}
	// A name starting with '}' would leave an empty hash tag, and the two
	// keys could land in different cluster slots.
	if name == "" || strings.HasPrefix(name, "}") {
		return lockKeys{}, fmt.Errorf("lock: name must be non-empty and must not start with '}', got %q", name)
	}
	key := lk.opts.Prefix + ":{" + name + "}"
	return lockKeys{lock: key, fence: key + ":fence"}, nil
}

// Lock is a held lock. It is safe for concurrent use by multiple goroutines.
// A watchdog goroutine extends its lease every Options.ExtendInterval until
// Release, or until an extension finds the lock gone or the lease lapses;
// then Context is cancelled. Always Release a Lock, even a lost one: Release
// stops the watchdog.
type Lock struct {
	locker *Locker
	name   string
	keys   lockKeys
	owner  string // random value proving ownership to the scripts
	token  int64

	ctx        context.Context
	cancel     context.CancelCauseFunc
	turn       *turnQueue // this process's queue for the name, left when the lock ends
	finishOnce sync.Once

	// leaseEnd is when the lease surely ends unless extended, measured on
	// the monotonic clock as nanoseconds since start: the send time of the
	// last successful acquire or extend plus its TTL.
	start    time.Time
	leaseEnd atomic.Int64

	stopWatchdog  chan struct{}
	stopOnce      sync.Once
	watchdogEnded chan struct{}
}

// Name returns the lock's name.
func (l *Lock) Name() string { return l.name }

// Key returns the Redis key that holds the lock, "Prefix:{name}".
func (l *Lock) Key() string { return l.keys.lock }

// Token returns the lock's fencing token: a number that is larger for every
// later acquisition of the same name, by any holder in any process (see
// Options.FenceTTL and docs/lock.md for the limits on failover). Pass it to
// the protected resource and let the resource reject tokens lower than the
// highest it has seen.
func (l *Lock) Token() int64 { return l.token }

// Context returns a context that is cancelled when the lock is released or
// lost. context.Cause tells which: ErrReleased, or an error wrapping
// ErrNotHeld. Run the protected work under it and stop when it is done.
func (l *Lock) Context() context.Context { return l.ctx }

// Extend makes the lease last at least ttl from now (whole milliseconds, at
// least 1 ms), in one round trip; it never shortens it. The watchdog keeps
// extending to Options.Validity as usual. It returns ErrNotHeld, and cancels
// Context, if the lock was lost.
func (l *Lock) Extend(ctx context.Context, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("lock: Extend %q: ttl must be at least 1ms, got %v", l.keys.lock, ttl)
	}
	if err := l.heldErr(); err != nil {
		return err
	}
	return l.extend(ctx, ttl.Truncate(time.Millisecond))
}

// Release gives the lock up in one round trip, if this Lock still holds it,
// stops the watchdog and cancels Context with cause ErrReleased. It returns
// ErrNotHeld if the lock had already been lost or released. A Redis error is
// returned wrapped; the lease then lapses by itself within Validity.
func (l *Lock) Release(ctx context.Context) error {
	if err := l.stop(); err != nil {
		return err
	}
	n, err := releaseScript.Exec(ctx, l.locker.redis, []string{l.keys.lock}, []string{l.owner}).AsInt64()
	return l.released(n == 1, err)
}

// heldErr returns ErrNotHeld (wrapped with the reason) once the lock's
// Context is done.
func (l *Lock) heldErr() error {
	if l.ctx.Err() == nil {
		return nil
	}
	if cause := context.Cause(l.ctx); errors.Is(cause, ErrNotHeld) {
		return cause
	}
	return fmt.Errorf("%w: %q was released", ErrNotHeld, l.keys.lock)
}
