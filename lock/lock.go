package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/transport"
)

// errNilLocker is returned by the methods of a nil *Locker, such as the
// one a failed New returns.
var errNilLocker = errors.New("lock: nil *Locker (New failed?)")

// fenceKind is the key kind of a lock's fencing counter; the lock key itself
// has the empty kind.
const fenceKind = "f"

// Locker hands out distributed locks stored in one Redis deployment
// (standalone or cluster). It is safe for concurrent use by multiple
// goroutines; build one per instance (Options.Prefix) and share it. Acquire
// blocks; all other methods make at most one round trip.
//
// A Locker subscribes to its client's invalidations of its keys: a waiter
// reads the lock key with tracking and is woken when Redis reports that the
// key changed. Close removes that subscription.
type Locker struct {
	conn   *transport.Conn
	send   rediscmd.Sender // conn.DoUntracked: the lease scripts' round trips
	opts   Options
	args   leaseArgs
	space  keyspace.Space
	owners ownerSource
	wakes  *wakeRouter
	turns  *localTurns
	dogs   watchdogs // extends the held locks' leases
	unsub  func()
	closed chan struct{}
	close  sync.Once
}

// New returns a Locker that stores locks through c. Zero fields of opts take
// their documented defaults; an invalid field is reported by name in an
// error wrapping ErrInvalidOptions. opts is not modified.
func New(c *typecache.Client, opts Options) (*Locker, error) {
	if c == nil {
		return nil, invalid("New needs a *typecache.Client, got nil")
	}
	opts, err := opts.validated()
	if err != nil {
		return nil, err
	}
	space, err := keyspace.New(keyspace.Lock, opts.Prefix)
	if err != nil {
		return nil, invalid("Options.Prefix %v", err)
	}
	opts.Observer = observe.Named(opts.Observer, opts.Prefix, Observer(NoopObserver{}))
	conn, err := clientconn.Live(c, ErrClosed)
	if err != nil {
		return nil, err
	}
	lk := &Locker{
		conn: conn, send: conn.DoUntracked, opts: opts, args: opts.leaseArgs(), space: space,
		owners: newOwnerSource(), wakes: newWakeRouter(), turns: newLocalTurns(), closed: make(chan struct{}),
	}
	lk.unsub = c.Subscribe(space.Prefix(), lk.wakes)
	return lk, nil
}

// Close stops listening for invalidations and makes Acquire and TryAcquire,
// blocked ones included, return ErrClosed. Locks already held are
// unaffected: they keep being extended until released (their Locker's
// typecache.Client must stay open for that). Close is idempotent.
func (lk *Locker) Close() {
	if lk == nil {
		return
	}
	lk.close.Do(func() {
		lk.unsub()
		close(lk.closed)
	})
}

// TryAcquire takes the lock name if it is free, in one round trip, and
// returns ErrNotAcquired at once if it is held elsewhere, or if another
// goroutine of this Locker holds it or is waiting for it (then no round
// trip is made). ctx bounds the round trip only: the returned Lock lives
// until Release or loss. A Redis error (a refused connection, say) is
// returned at once, wrapped.
func (lk *Locker) TryAcquire(ctx context.Context, name string) (*Lock, error) {
	keys, err := lk.keysFor(name)
	if err != nil {
		return nil, err
	}
	turn, ok := lk.turns.try(keys.lock)
	if !ok {
		return nil, lk.notAcquired(name, 0, notAcquiredError(name))
	}
	l, err := lk.tryAcquire(ctx, name, keys, turn)
	if l == nil && err == nil {
		err = notAcquiredError(name)
	}
	if err != nil {
		lk.turns.leave(keys.lock, turn)
		return nil, lk.notAcquired(name, 0, err)
	}
	lk.opts.Observer.OnAcquired(name, l.token, 0)
	return l, nil
}

// Acquire takes the lock name, blocking until it is free or ctx ends; then it
// returns ctx's error (or cause), wrapped. ctx bounds the wait only: the
// returned Lock lives until Release or loss, and its Context carries ctx's
// values but not its cancellation. Other goroutines' waits are unaffected by
// this one's ctx. Locks are not reentrant: a goroutine that acquires a name
// it already holds waits for itself until ctx ends. A Redis error (a refused
// connection, say) ends the wait at once and is returned wrapped.
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
	start := time.Now()
	turn, queued, err := lk.turns.wait(ctx, name, keys.lock, lk.closed)
	if err != nil {
		return nil, lk.notAcquired(name, time.Since(start), err)
	}
	l, waitedInRedis, err := lk.acquireInTurn(ctx, name, keys, turn)
	var waited time.Duration
	if queued || waitedInRedis {
		waited = time.Since(start)
	}
	if err != nil {
		lk.turns.leave(keys.lock, turn)
		return nil, lk.notAcquired(name, waited, err)
	}
	lk.opts.Observer.OnAcquired(name, l.token, waited)
	return l, nil
}

// notAcquired reports err to the Observer and returns it.
func (lk *Locker) notAcquired(name string, waited time.Duration, err error) error {
	lk.opts.Observer.OnNotAcquired(name, waited, err)
	return err
}

func notAcquiredError(name string) error { return fmt.Errorf("%w: %q", ErrNotAcquired, name) }

// lockKeys are the Redis keys of one lock name; they share a hash tag, the
// (encoded) name.
type lockKeys struct {
	lock  string // lock:<prefix>:{name}, holds the owner's value
	fence string // lock:<prefix>:f{name}, the fencing counter
}

// keysFor returns name's keys, or the error that a call on name must return
// before touching Redis.
func (lk *Locker) keysFor(name string) (lockKeys, error) {
	if lk == nil {
		return lockKeys{}, errNilLocker
	}
	select {
	case <-lk.closed:
		return lockKeys{}, ErrClosed
	default:
	}
	if lk.conn.Closed() {
		return lockKeys{}, ErrClosed
	}
	if name == "" {
		return lockKeys{}, ErrEmptyKey
	}
	return lockKeys{lock: lk.space.Key("", name), fence: lk.space.Key(fenceKind, name)}, nil
}

// Lock is a held lock. It is safe for concurrent use by multiple goroutines.
// A watchdog extends its lease every Options.ExtendInterval until Release,
// or until an extension finds the lock gone or the lease lapses; then
// Context is cancelled. Always Release a Lock, even a lost one: Release
// stops the watchdog.
//
// The methods of a nil *Lock (from a failed Acquire) do not panic: they
// report ErrNotHeld.
type Lock struct {
	locker *Locker
	name   string
	keys   lockKeys
	owner  string // the value proving ownership to the scripts
	token  int64
	turn   *turnQueue      // this process's queue for the name, left when the lock ends
	values context.Context // the acquiring call's ctx: Context carries its values

	// start is when the acquire script was sent; leaseEnd is when the lease
	// surely ends unless extended, as nanoseconds since start on the
	// monotonic clock.
	start    time.Time
	leaseEnd atomic.Int64

	watchdog watchdog

	mu     sync.Mutex
	cause  error                   // why the lock ended; nil while held
	ctx    context.Context         // made by the first call of Context
	cancel context.CancelCauseFunc // cancels ctx
}

// errNilLock is what the methods of a nil *Lock report.
var errNilLock = fmt.Errorf("%w: nil *Lock (Acquire failed?)", ErrNotHeld)

// Name returns the lock's name.
func (l *Lock) Name() string {
	if l == nil {
		return ""
	}
	return l.name
}

// Key returns the Redis key that holds the lock, "lock:<Prefix>:{name}".
func (l *Lock) Key() string {
	if l == nil {
		return ""
	}
	return l.keys.lock
}

// Token returns the lock's fencing token: a number that is larger for every
// later acquisition of the same name, by any holder in any process (see
// Options.FenceTTL and docs/lock.md for the limits on failover). Pass it to
// the protected resource and let the resource reject tokens lower than the
// highest it has seen.
func (l *Lock) Token() int64 {
	if l == nil {
		return 0
	}
	return l.token
}

// Context returns a context that is cancelled when the lock is released or
// lost. context.Cause tells which: ErrReleased, or an error wrapping
// ErrNotHeld. Run the protected work under it and stop when it is done.
func (l *Lock) Context() context.Context {
	if l == nil {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errNilLock)
		return ctx
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Made on demand: a lock whose Context nobody asks for costs no
	// context.
	if l.ctx == nil {
		l.ctx, l.cancel = context.WithCancelCause(context.WithoutCancel(l.values))
		if l.cause != nil {
			l.cancel(l.cause)
		}
	}
	return l.ctx
}

// Extend makes the lease last at least ttl from now (whole milliseconds, at
// least 1 ms), in one round trip; it never shortens it. The watchdog keeps
// extending to Options.Validity as usual. It returns ErrNotHeld, and cancels
// Context, if the lock was lost.
func (l *Lock) Extend(ctx context.Context, ttl time.Duration) error {
	if l == nil {
		return errNilLock
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("lock: Extend %q: ttl must be at least 1ms, got %v", l.name, ttl)
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
	if l == nil {
		return errNilLock
	}
	l.stopWatchdog()
	if err := l.heldErr(); err != nil {
		return err
	}
	n, err := l.locker.run(ctx, releaseScript, []string{l.keys.lock}, []string{l.owner})
	return l.released(n == 1, err)
}

// heldErr returns ErrNotHeld (wrapped with the reason) once the lock has
// ended.
func (l *Lock) heldErr() error {
	l.mu.Lock()
	cause := l.cause
	l.mu.Unlock()
	switch {
	case cause == nil:
		return nil
	case errors.Is(cause, ErrNotHeld):
		return cause
	}
	return fmt.Errorf("%w: %q was released", ErrNotHeld, l.name)
}

// finish ends the lock with cause, if it has not ended yet: it cancels
// Context (if made) and passes this process's turn for the name to the next
// local goroutine. It reports whether this call ended the lock.
func (l *Lock) finish(cause error) bool {
	l.mu.Lock()
	first := l.cause == nil
	if first {
		l.cause = cause
		if l.cancel != nil {
			l.cancel(cause)
		}
	}
	l.mu.Unlock()
	if first {
		l.locker.turns.leave(l.keys.lock, l.turn)
	}
	return first
}
