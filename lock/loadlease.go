package lock

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/rediscmd"
)

// This file holds the primitives of a load lease: a lock in the cluster slot
// of a value's key, released in the same script that stores the value.

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
	if l == nil {
		return false, errNilLock
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("lock: SetAndRelease %q: ttl must be at least 1ms, got %v", key, ttl)
	}
	if hashSlot(key) != hashSlot(l.keys.lock) {
		return false, fmt.Errorf("lock: SetAndRelease: %q is not in the cluster slot of %q; name the lock lock.NameFor(key)", key, l.keys.lock)
	}
	l.stopWatchdog() // even a lost lock may store the value if the key is absent
	outcome, err := setAndReleaseScript.Exec(ctx, l.locker.redis,
		[]string{l.keys.lock, key},
		[]string{l.owner, rueidis.BinaryString(value), rediscmd.Millis(ttl)}).AsInt64()
	if err != nil {
		return false, l.released(false, err)
	}
	return outcome != 0, l.released(outcome == 1, nil)
}

// clusterSlots is the number of hash slots of a Redis cluster.
const clusterSlots = 16384

// NameFor returns a lock name whose keys live in the same cluster slot as
// key and that differs for every key, so that one script can touch both the
// lock and key (see [Lock.SetAndRelease]). It takes time linear in the
// length of key and nothing more, whatever key holds.
//
// A lock's keys are hashed by their tag, the percent-encoded name (see
// Options.Prefix); key is hashed by Redis's rule (its hash tag, the text
// between its first '{' and the next '}' if not empty, or else the whole
// key). The name is key, a '#', and three characters from [0-9A-Za-z_-]
// that bring the encoded name to key's slot: "user:42" gives
// "user:42#" and three such characters.
func NameFor(key string) string {
	tag := hashTag(lockSpace.Key("", key+"#")) // the encoded name so far
	state := crc16(tag)
	// CRC-16 is linear: appending three bytes s to a message in state c
	// gives crc(c, "\0\0\0") XOR crc(s), whose low 14 bits are the slot.
	need := (hashSlot(key) ^ crc16Update(state, "\x00\x00\x00")) % clusterSlots
	return key + "#" + slotSuffixes()[need]
}

// lockSpace encodes names as every Locker does; the instance does not
// change the encoding, so any valid one will do.
var lockSpace, _ = keyspace.New(keyspace.Lock, DefaultPrefix)

// slotSuffixAlphabet are the characters of NameFor's suffixes: none is
// changed by the key encoding.
const slotSuffixAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"

// slotSuffixes maps each 14-bit value v to a three-character string whose
// CRC-16 has v as its low 14 bits; the tests check that every value has
// one.
var slotSuffixes = sync.OnceValue(func() *[clusterSlots]string {
	var table [clusterSlots]string
	const n = len(slotSuffixAlphabet)
	for i := range n * n * n {
		s := string([]byte{slotSuffixAlphabet[i/(n*n)], slotSuffixAlphabet[i/n%n], slotSuffixAlphabet[i%n]})
		if v := crc16(s) % clusterSlots; table[v] == "" {
			table[v] = s
		}
	}
	return &table
})

// hashTag returns the text between key's first '{' and the next '}', if that
// text is not empty, else key.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	length := strings.IndexByte(key[open+1:], '}')
	if length <= 0 {
		return key
	}
	return key[open+1 : open+1+length]
}

// hashSlot is the cluster slot of key, as Redis computes it.
func hashSlot(key string) uint16 { return crc16(hashTag(key)) % clusterSlots }

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), Redis
// Cluster's key hash.
func crc16(s string) uint16 { return crc16Update(0, s) }

// crc16Update continues a CRC-16/XMODEM in state crc over s.
func crc16Update(crc uint16, s string) uint16 {
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
