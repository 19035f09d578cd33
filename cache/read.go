package cache

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/tier"
)

// readMode is what readScript does besides reading (see readScript).
type readMode string

const (
	readOnly    readMode = "get"     // Get
	readOrLease readMode = "load"    // Fetch, FetchMany: take the lease on a miss
	leaseAlways readMode = "refresh" // refreshes, and loads over undecodable bytes
)

// localExpiryMargin is how much sooner than Redis the local tier drops an
// entry: Redis rounds PTTL down to whole milliseconds, and the clock of
// local hits lags by up to a millisecond (see coarseClock).
const localExpiryMargin = 2 * time.Millisecond

// headerBytes is the length of what precedes every envelope: the value's
// version and generation, 16 decimal digits each (see scripts.go).
const headerBytes = 32

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
	// gen is the cache generation the read was made in (decimal): the
	// store of the lease it took (stateLeased) tags its value with it.
	gen string
}

// readArgs are readScript's arguments for mode with token in generation gen.
func (c *Cache[T]) readArgs(mode readMode, token, gen string) []string {
	return []string{string(mode), token, c.leaseMillis, gen}
}

// read reads key with readScript in mode (token is the caller's lease token
// for the modes that lease). beforeLoad says that the caller loads when the
// read fails (Fetch), so the read leaves the loader half of ctx's time
// (redisDeadline.boundBeforeLoad). into, when not nil, receives a hit that
// does not enter the local tier, so that a caller that only looks at the
// item spares its allocation.
//
// The local tier stays coherent by two rules. The key's ticket of the tier
// is taken before the request is sent and checked at insertion: an
// invalidation, an own write or a Clear that overtakes the read wins. And of
// two replies that race into the tier, the value with the higher version
// stays.
func (c *Cache[T]) read(ctx context.Context, key string, mode readMode, token string, now int64, beforeLoad bool, into *item[T]) (readResult[T], error) {
	return c.readVia(ctx, c.send, key, mode, token, now, beforeLoad, into)
}

// readTracked is read in readOrLease mode, always tracked when the client
// tracks (also without a local tier): a caller that finds the lease busy
// waits for the invalidation of the key or its guard.
func (c *Cache[T]) readTracked(ctx context.Context, key, token string) (readResult[T], error) {
	return c.readVia(ctx, c.conn.DoTracked, key, readOrLease, token, c.now(), false, nil)
}

func (c *Cache[T]) readVia(ctx context.Context, send rediscmd.Sender, key string, mode readMode, token string, now int64, beforeLoad bool, into *item[T]) (readResult[T], error) {
	keys := c.keysOf(key)
	if !c.breaker.Allow(keys[0]) {
		return readResult[T]{}, ErrUnavailable
	}
	// The tier's ticket before the cache's generation: a Clear forgets the
	// cache's generation before it flushes the tier.
	ticket := c.localTicket(key)
	var rctx context.Context
	var done context.CancelFunc
	if beforeLoad {
		rctx, done = c.deadline.boundBeforeLoad(ctx, now)
	} else {
		rctx, done = c.deadline.bound(ctx, now)
	}
	gen, err := c.currentGeneration(ctx, rctx)
	var msg rueidis.RedisMessage
	sent := wallClock.read()
	if err == nil {
		msg, err = readScript.Exec(rctx, c.redis, send, keys, c.readArgs(mode, token, gen))
		c.breaker.Record(ctx, keys[0], err)
	}
	done()
	if err != nil {
		return readResult[T]{}, err
	}
	res, err := c.settle(key, msg, ticket, now, sent, into)
	res.gen = gen
	return res, err
}

// settle turns readScript's reply for key into a readResult; ticket is
// key's ticket of the local tier taken before the request, and sent the
// wall clock when it was sent.
func (c *Cache[T]) settle(key string, msg rueidis.RedisMessage, ticket tier.Ticket, now, sent int64, into *item[T]) (readResult[T], error) {
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
		if it := c.accept(key, s, pttl, ticket, now, sent, into); it != nil {
			return readResult[T]{state: stateHit, item: it}, nil
		}
		return readResult[T]{state: stateMiss}, nil
	}
	return readResult[T]{}, fmt.Errorf("cache: unexpected reply to a read: %v", msg)
}

// accept turns the bytes s under key, which expire in pttl ms, into an item,
// and inserts it into the local tier if ticket still holds and the tier
// does not hold a newer version. It returns nil for bytes that do not
// decode (reported to the observer). A key without expiry was not written
// by a Cache; its item is served but not kept.
//
// The item expires localExpiryMargin before pttl after sent, the wall
// clock before the read was sent: Redis measured pttl later, so the local
// tier never serves a value after Redis stopped serving it (past a
// TTLFunc's instant, say).
func (c *Cache[T]) accept(key, s string, pttl int64, ticket tier.Ticket, now, sent int64, into *item[T]) *item[T] {
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
	hardAt := sent + pttl*int64(time.Millisecond) - int64(localExpiryMargin)
	if env.exact && pttl > 0 && hardAt <= time.Now().UnixNano() {
		return nil // a hard expiry within the margin: as good as gone
	}
	if pttl <= 0 {
		hardAt = now + int64(env.stale+c.o.TTL)
	}
	if c.afterRemoteRead != nil {
		c.afterRemoteRead(key)
	}
	if keep {
		e := c.local.newEntry(key, version, hardAt, len(s))
		e.Value.init(key, v, env, hardAt, c.o.EarlyRefreshBeta)
		c.local.insert(e, ticket)
		return &e.Value
	}
	// Kept apart from the branch above, so that into does not escape.
	if into == nil {
		into = new(item[T])
	}
	into.init(key, v, env, hardAt, c.o.EarlyRefreshBeta)
	return into
}

// parseStored splits what a Cache stores under a key: the version, the
// generation (checked by the script that read it), then the envelope.
func parseStored(s string) (uint64, envelope, error) {
	if len(s) < headerBytes {
		return 0, envelope{}, errEnvelope
	}
	version, err := strconv.ParseUint(s[:16], 10, 64)
	if err != nil {
		return 0, envelope{}, errEnvelope
	}
	if _, err := strconv.ParseUint(s[16:headerBytes], 10, 64); err != nil {
		return 0, envelope{}, errEnvelope
	}
	env, err := parseEnvelope(unsafe.Slice(unsafe.StringData(s[headerBytes:]), len(s)-headerBytes))
	return version, env, err
}

// localTicket returns key's ticket of the local tier (the zero Ticket
// without a tier).
func (c *Cache[T]) localTicket(key string) tier.Ticket {
	if c.local == nil {
		return tier.Ticket{}
	}
	return c.local.ticket(key)
}

// keysOf returns key's Redis keys: the value's and the guard's (see
// scripts.go), in that order.
func (c *Cache[T]) keysOf(key string) []string {
	return []string{c.space.Key(valueKind, key), c.space.Key(guardKind, key)}
}

// The kinds of a cache's Redis keys: a key's value and guard, and the
// cache's generation (whose id is empty: no key can have it).
const (
	valueKind      = ""
	guardKind      = "l"
	generationKind = "g"
)
