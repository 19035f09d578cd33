package lock

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// setAndReleaseScript writes a value and releases the lock in one step.
// KEYS: lock, value key. ARGV: owner, value, value TTL in ms.
// It returns 1 when the owner still held the lock (value written, lock
// deleted), 2 when the lock was lost but the value key was absent (value
// written), 0 when the lock was lost and a value was already there (nothing
// written). The value is written before the lock key is deleted, so a
// waiter woken by the lock's invalidation finds it.
var setAndReleaseScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
	redis.call('DEL', KEYS[1])
	return 1
end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
	return 2
end
return 0`)

// SetAndRelease writes value under key with the given TTL (whole
// milliseconds, at least 1 ms) and releases the lock, in one script and one
// round trip. It is the last step of a load guarded by the lock, as in a
// cache miss: waiters woken by the release find the value already there.
//
// key must be in the lock's cluster slot, on every topology (so code tested
// on a standalone server works on a cluster): name the lock [NameFor](key).
// Otherwise SetAndRelease returns an error, writes nothing and keeps the lock.
//
// If the lock was lost while loading (the lease lapsed), the value is still
// written if key is absent, since a fresh value is better than none, but it
// never overwrites a value already there, which may come from the next
// holder's newer load; SetAndRelease then returns ErrNotHeld and stored
// reports whether the value was written. In every case but the slot error,
// the watchdog stops and Context is cancelled.
func (l *Lock) SetAndRelease(ctx context.Context, key string, value []byte, ttl time.Duration) (stored bool, err error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("lock: SetAndRelease %q: ttl must be at least 1ms, got %v", key, ttl)
	}
	if hashSlot(key) != hashSlot(l.keys.lock) {
		return false, fmt.Errorf("lock: SetAndRelease: %q is not in the cluster slot of %q; name the lock lock.NameFor(key)", key, l.keys.lock)
	}
	_ = l.stop() // even a lost lock may store the value if the key is absent
	outcome, err := setAndReleaseScript.Exec(ctx, l.locker.redis,
		[]string{l.keys.lock, key},
		[]string{l.owner, rueidis.BinaryString(value), millis(ttl)}).AsInt64()
	if err != nil {
		l.finish(ErrReleased)
		return false, fmt.Errorf("lock: set %q and release %q: %w", key, l.keys.lock, err)
	}
	return outcome != 0, l.released(outcome == 1, nil)
}
