package cache

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/rediscmd"
)

// readMode is what readScript does besides reading (see readScript).
type readMode string

const (
	readOnly     readMode = "get"     // Get
	readOrLease  readMode = "load"    // Fetch, FetchMany: take the lease on a miss
	leaseAlways  readMode = "refresh" // refreshes, and loads over undecodable bytes
	versionBytes          = 16        // the decimal version before every envelope
)

// readState says what a read found.
type readState uint8

const (
	stateHit    readState = iota // a value, or a cached absence
	stateMiss                    // nothing (readOnly), or undecodable bytes
	stateLeased                  // the load lease is the reader's now
	stateBusy                    // another caller holds the load lease
)

// readResult is one read of one key.
type readResult[T any] struct {
	state readState
	item  *item[T]      // stateHit
	wait  time.Duration // stateBusy: the lease's time left
}

// leaseArgs are readScript's arguments for mode with token.
func (c *Cache[T]) leaseArgs(mode readMode, token string) []string {
	return []string{string(mode), token, c.leaseMillis}
}

// read reads key with readScript in mode (token is the caller's lease token
// for the modes that lease). beforeLoad says that the caller loads when the
// read fails (Fetch), so the read leaves the loader half of ctx's time
// (redisDeadline.boundBeforeLoad). into, when not nil, receives a hit that
// does not enter the local tier, so that a caller that only looks at the
// item spares its allocation.
//
// The local tier stays coherent by two rules. The key's generation is read
// before the request is sent and checked at insertion: an invalidation or an
// own write that overtakes the read wins. And of two replies that race into
// the tier, the value with the higher version stays.
func (c *Cache[T]) read(ctx context.Context, key string, mode readMode, token string, now int64, beforeLoad bool, into *item[T]) (readResult[T], error) {
	return c.readVia(ctx, c.send, key, mode, token, now, beforeLoad, into)
}

// readTracked is read in readOrLease mode, always tracked when the client
// tracks (also without a local tier): a caller that finds the lease busy
// waits for the invalidation of the key or its guard.
func (c *Cache[T]) readTracked(ctx context.Context, key, token string) (readResult[T], error) {
	return c.readVia(ctx, c.client.DoTracked, key, readOrLease, token, c.now(), false, nil)
}

func (c *Cache[T]) readVia(ctx context.Context, send rediscmd.Sender, key string, mode readMode, token string, now int64, beforeLoad bool, into *item[T]) (readResult[T], error) {
	if !c.breaker.allow(now) {
		return readResult[T]{}, ErrUnavailable
	}
	gen := c.generation(key)
	var rctx context.Context
	var done context.CancelFunc
	if beforeLoad {
		rctx, done = c.deadline.boundBeforeLoad(ctx, now)
	} else {
		rctx, done = c.deadline.bound(ctx, now)
	}
	msg, err := readScript.Exec(rctx, c.redis, send, c.keysOf(key), c.leaseArgs(mode, token))
	done()
	c.breaker.record(ctx, err, c.now())
	if err != nil {
		return readResult[T]{}, err
	}
	return c.settle(key, msg, gen, now, into)
}

// settle turns readScript's reply for key into a readResult; gen is the
// generation read before the request.
func (c *Cache[T]) settle(key string, msg rueidis.RedisMessage, gen uint64, now int64, into *item[T]) (readResult[T], error) {
	reply, err := msg.ToArray()
	if err != nil || len(reply) == 0 {
		return readResult[T]{}, fmt.Errorf("cache: unexpected reply to a read: %v", msg)
	}
	code, _ := reply[0].AsInt64()
	switch {
	case code == 1:
		return readResult[T]{state: stateMiss}, nil
	case code == 2:
		return readResult[T]{state: stateLeased}, nil
	case code == 3 && len(reply) == 2:
		pttl, _ := reply[1].AsInt64()
		return readResult[T]{state: stateBusy, wait: time.Duration(max(pttl, 1)) * time.Millisecond}, nil
	case code == 0 && len(reply) == 3:
		s, _ := reply[1].ToString()
		pttl, _ := reply[2].AsInt64()
		if it := c.accept(key, s, pttl, gen, now, into); it != nil {
			return readResult[T]{state: stateHit, item: it}, nil
		}
		return readResult[T]{state: stateMiss}, nil
	}
	return readResult[T]{}, fmt.Errorf("cache: unexpected reply to a read: %v", msg)
}

// accept turns the bytes s under key, which expire in pttl ms, into an item,
// and inserts it into the local tier if gen still holds and the tier does
// not hold a newer version. It returns nil for bytes that do not decode
// (reported to the observer). A key without expiry was not written by a
// Cache; its item is served but not kept.
func (c *Cache[T]) accept(key, s string, pttl int64, gen uint64, now int64, into *item[T]) *item[T] {
	version, env, err := parseStored(s)
	var v T
	if err == nil && !env.absent {
		// The codec must not retain or modify data (the Codec contract), so
		// the reply's string can be decoded in place.
		v, err = c.o.Codec.Decode(env.payload)
	}
	if err != nil {
		c.stats.decodeErrors.Add(1)
		c.o.Observer.OnDecodeError(key, err)
		return nil
	}
	keep := pttl > 0 && c.local != nil
	// The real clock, like Redis's: a test that moves the Cache's clock
	// sees stored values age.
	hardAt := wallClock.read() + pttl*int64(time.Millisecond)
	if pttl <= 0 {
		hardAt = now + int64(env.stale+c.o.TTL)
	}
	if c.afterRemoteRead != nil {
		c.afterRemoteRead(key)
	}
	if keep {
		it := newItem(key, v, env, hardAt, c.o.EarlyRefreshBeta, len(s))
		it.version = version
		c.local.insert(it, gen, now)
		return it
	}
	// Kept apart from the branch above, so that into does not escape.
	if into == nil {
		into = new(item[T])
	}
	into.init(key, v, env, hardAt, c.o.EarlyRefreshBeta, len(s))
	into.version = version
	return into
}

// parseStored splits what a Cache stores under a key: the version, then the
// envelope.
func parseStored(s string) (uint64, envelope, error) {
	if len(s) < versionBytes {
		return 0, envelope{}, errEnvelope
	}
	version, err := strconv.ParseUint(s[:versionBytes], 10, 64)
	if err != nil {
		return 0, envelope{}, errEnvelope
	}
	env, err := parseEnvelope(unsafe.Slice(unsafe.StringData(s[versionBytes:]), len(s)-versionBytes))
	return version, env, err
}

// generation returns the local tier's generation for key (0 without a tier).
func (c *Cache[T]) generation(key string) uint64 {
	if c.local == nil {
		return 0
	}
	return c.local.generation(key)
}

// keysOf returns key's Redis keys: the value's and the guard's (see
// scripts.go), in that order.
func (c *Cache[T]) keysOf(key string) []string {
	return []string{c.space.Key(valueKind, key), c.space.Key(guardKind, key)}
}

// The kinds of a cache key's Redis keys.
const (
	valueKind = ""
	guardKind = "l"
)
