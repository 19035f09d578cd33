package lock

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/typecache/typecache/internal/rediscmd"
)

// The lease scripts. Each takes the lock key first and acts on it only if it
// holds the caller's owner value; leases are relative TTLs (PX) measured by
// the server, so no client clock reaches Redis.

// acquireScript takes the lock if free and returns the next fencing token,
// or 0 if the lock is held. KEYS: lock, fence. ARGV: owner, lease in ms,
// fence TTL in ms (0: never expires). The counter is incremented only on
// success, so tokens are consecutive per name.
var acquireScript = rediscmd.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return 0
end
local token = redis.call('INCR', KEYS[2])
if ARGV[3] ~= '0' then
	redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return token`)

// tryAcquire runs the acquire script once: it returns the held Lock, or nil
// and a nil error if the lock is held elsewhere, or the Redis error.
func (lk *Locker) tryAcquire(ctx context.Context, name string, keys lockKeys, turn *turnQueue) (*Lock, error) {
	owner := lk.owners.next()
	sent := time.Now()
	token, err := lk.run(ctx, acquireScript,
		[]string{keys.lock, keys.fence},
		[]string{owner, lk.args.validity, lk.args.fenceTTL})
	switch {
	case err != nil:
		return nil, fmt.Errorf("lock: acquire %q: %w", name, err)
	case token == 0:
		return nil, nil
	}
	l := &Lock{locker: lk, name: name, keys: keys, owner: owner, token: token, turn: turn, values: ctx, start: sent}
	l.leaseEnd.Store(int64(safeLease(lk.opts.Validity)))
	l.startWatchdog()
	return l, nil
}

// ownerSource hands out owner values: a random 128-bit value per Locker,
// drawn once, and a counter. So every acquisition, in any process, writes a
// value no other holder has, without reading crypto/rand on every call.
type ownerSource struct {
	prefix string
	count  atomic.Uint64
}

func newOwnerSource() ownerSource {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return ownerSource{prefix: base64.RawURLEncoding.EncodeToString(b[:]) + "."}
}

func (s *ownerSource) next() string {
	var buf [48]byte
	return string(strconv.AppendUint(append(buf[:0], s.prefix...), s.count.Add(1), 36))
}

// extendScript makes the lease last at least ARGV[2] ms if ARGV[1] still
// owns it, and refreshes the fence counter's expiry (ARGV[3] ms, 0: none).
// It returns 1 if the lock is held, 0 if not. KEYS: lock, fence.
var extendScript = rediscmd.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if ARGV[3] ~= '0' then
	redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1`)

// extend makes the lease last at least ttl (whole milliseconds), or finds
// the lock lost. An extension that cannot get an answer before the current
// lease surely ends loses the lock: an answer after that proves nothing.
func (l *Lock) extend(ctx context.Context, ttl time.Duration) error {
	end := l.leaseEndTime()
	if !time.Now().Before(end) {
		return l.lose("the lease lapsed before it could be extended")
	}
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	ttlArg := l.locker.args.validity
	if ttl != l.locker.opts.Validity {
		ttlArg = rediscmd.Millis(ttl)
	}
	sent := time.Now()
	held, err := l.locker.run(ctx, extendScript,
		[]string{l.keys.lock, l.keys.fence},
		[]string{l.owner, ttlArg, l.locker.args.fenceTTL})
	switch {
	case err != nil && !time.Now().Before(end):
		return l.lose("the lease lapsed before it could be extended")
	case err != nil:
		err = fmt.Errorf("lock: extend %q: %w", l.name, err)
		l.locker.opts.Observer.OnExtended(l.name, err)
		return err
	case held == 0:
		return l.lose("the key was deleted, expired or taken")
	}
	l.pushLeaseEnd(sent.Sub(l.start) + safeLease(ttl))
	l.locker.opts.Observer.OnExtended(l.name, nil)
	return nil
}

// lose ends the lock with an ErrNotHeld cause and returns that cause (or
// the earlier one, if the lock had already ended).
func (l *Lock) lose(reason string) error {
	cause := fmt.Errorf("%w: %q: %s", ErrNotHeld, l.name, reason)
	if l.finish(cause) {
		l.locker.opts.Observer.OnLost(l.name, cause)
	}
	return l.heldErr()
}

// releaseScript deletes the lock key if ARGV[1] still owns it and returns 1,
// else 0. KEYS: lock.
var releaseScript = rediscmd.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	return 1
end
return 0`)

// released finishes a release whose script answered (held, err): held is
// false if the lock had been lost. It ends the lock either way and wakes
// this Locker's own waiters without waiting for Redis's invalidation.
func (l *Lock) released(held bool, err error) error {
	switch {
	case err != nil:
		err = fmt.Errorf("lock: release %q: %w", l.name, err)
		if l.finish(ErrReleased) {
			l.locker.opts.Observer.OnReleased(l.name, time.Since(l.start), err)
		}
		return err
	case !held:
		return l.lose("the lease lapsed or the key was taken before release")
	}
	if l.finish(ErrReleased) {
		l.locker.opts.Observer.OnReleased(l.name, time.Since(l.start), nil)
	}
	l.locker.wakes.Invalidate(l.keys.lock)
	return nil
}
