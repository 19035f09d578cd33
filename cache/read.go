package cache

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/tier"
	"github.com/typecache/typecache/internal/transport"
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

// readArgs are readScript's arguments for mode with token in generation gen.
// split asks the script to leave a value it serves to a GET sent after it
// in the same transaction (see splitReads).
func (c *Cache[T]) readArgs(mode readMode, token, gen string, split bool) []string {
	if split {
		return []string{string(mode), token, c.leaseMillis, gen, "1"}
	}
	return []string{string(mode), token, c.leaseMillis, gen}
}

// splitReadBytes is the size of stored values from which a read leaves
// the value out of readScript (splitReads). Redis copies each value
// a script reads or returns into a Lua string, and then out of it, at more
// than a microsecond per kilobyte; the GET that replaces the copy costs a
// transaction and a command, which breaks even at a few kilobytes.
const splitReadBytes = 2048

// splitReads reports whether the values of this cache are so large that a
// read sends readScript and a GET of the value in one transaction (a
// batch, each slot's scripts and GETs in one), the script reading the
// value's header alone, rather than the script alone: when the running
// mean of the values this process stored or read (storedSize) is
// splitReadBytes or more. A tracked read may split only
// when the tracked transaction is one (OPTIN tracking): in any other mode
// nothing would keep a write out from between the two.
//
// A refresh's read (leaseAlways) reads no value: a read with one among its
// calls never splits.
func (c *Cache[T]) splitReads(tracked bool, calls []readCall) bool {
	return c.storedSize.Load() >= c.splitFrom && (!tracked || c.conn.TrackedMultiIsTransaction()) &&
		!slices.ContainsFunc(calls, func(call readCall) bool { return call.mode == leaseAlways })
}

// valueGet builds the GET of a value's key, redisKey: pinned, as every
// read-only command (see internal/rediscmd).
func (c *Cache[T]) valueGet(redisKey string) rueidis.Completed {
	return rediscmd.Retried(c.redis.B().Get().Key(redisKey).Build())
}

// noteStoredSize adds a value of n bytes, stored or read, to storedSize's
// running mean (each new size weighs an eighth). Calls at once may lose one
// another's sizes: it is a hint.
func (c *Cache[T]) noteStoredSize(n int) {
	mean := c.storedSize.Load()
	c.storedSize.Store(mean + (int64(n)-mean)/8)
}

// readState says what a read found.
type readState uint8

const (
	stateHit    readState = iota // a value, or a cached absence
	stateMiss                    // nothing (readOnly), or undecodable bytes
	stateLeased                  // the load lease is the reader's now
	stateBusy                    // another caller holds the load lease
	stateFailed                  // the read failed (err)
)

// readResult is one read of one key.
type readResult[T any] struct {
	state readState
	item  *item[T]      // stateHit
	wait  time.Duration // stateBusy: the lease's time left
	// gen is the cache generation the read was made in (decimal): the
	// store of the lease it took (stateLeased) tags its value with it.
	gen string
	err error // stateFailed
	// sent (stateFailed) says that the script may have run: a lease it
	// took may be the caller's although the reply was lost.
	sent bool
}

// readCall is one key of a read: what readScript does besides reading it,
// and the caller's lease token for the modes that lease.
type readCall struct {
	key   string
	mode  readMode
	token string
	// redisKeys are key's Redis keys (keysOf), when the caller keeps them
	// for the lease's scripts; nil: read computes them.
	redisKeys []string
}

// redisKeys returns call's Redis keys.
func (c *Cache[T]) redisKeys(call readCall) []string {
	if call.redisKeys != nil {
		return call.redisKeys
	}
	return c.keysOf(call.key)
}

// readRequest is one read of one or more keys, all in one pipeline.
type readRequest struct {
	calls []readCall
	now   int64
	// beforeLoad says that a load follows a failed read (Fetch, FetchMany),
	// so the read leaves the loader half of ctx's time
	// (redisDeadline.boundBeforeLoad).
	beforeLoad bool
	// tracked asks for a tracked read also without a local tier: a caller
	// that finds a lease busy waits for the invalidation of the key or its
	// guard.
	tracked bool
}

// read reads req's keys with readScript into results (one per call): one
// round trip per cluster node, each key of a slot in one transaction that
// Redis tracks when the local tier may keep the reply (or req.tracked).
// Keys whose node's breaker is open fail without a round trip; a Redis
// error fails the keys it concerns.
//
// The local tier stays coherent by three rules. The key's ticket of the
// tier is taken before a tracked request is sent and checked at insertion:
// an invalidation, an own write or a Clear that overtakes the read wins.
// Of two replies that race into the tier, the value with the higher
// version stays. And an untracked read (a key's first, see admit) drops
// its keys from the tier after its reply, so that no tracked read sent
// before it keeps an older value.
func (c *Cache[T]) read(ctx context.Context, req readRequest, results []readResult[T]) {
	n := len(req.calls)
	if n == 1 { // a lone read: no batch bookkeeping
		res, err := c.readOne(ctx, req, nil)
		res.err = err
		results[0] = res
		return
	}
	// One request is tracked or not as a whole: tracked when any key may
	// enter the tier. Every key's read is noted (admit).
	tracked := req.tracked
	for _, call := range req.calls {
		tracked = c.admit(call.key) || tracked
	}
	// The tier's tickets before the cache's generation: a Clear forgets the
	// cache's generation before it flushes the tier.
	var tickets []tier.Ticket
	if tracked && c.local != nil {
		tickets = make([]tier.Ticket, n)
		for i, call := range req.calls {
			tickets[i] = c.local.ticket(call.key)
		}
	}
	rctx, done, gen, err := c.startRead(ctx, req)
	defer done()
	if err != nil {
		for i := range results {
			results[i] = readResult[T]{state: stateFailed, err: err}
		}
		return
	}
	plain := !tracked && c.plainGets && req.calls[0].mode == readOnly // GetMany: every call is readOnly
	split := !plain && c.splitReads(tracked, req.calls)
	keys, args := make([][]string, 0, n), make([][]string, 0, n)
	sent := make([]int, 0, n) // indexes in req.calls of keys[j]
	for i, call := range req.calls {
		k := c.redisKeys(call)
		if !c.breaker.Allow(k[0]) {
			results[i] = readResult[T]{state: stateFailed, err: errCircuitOpen}
			continue
		}
		keys, args, sent = append(keys, k), append(args, c.readArgs(call.mode, call.token, gen, split)), append(sent, i)
	}
	if len(sent) == 0 {
		return
	}
	at := wallClock.read()
	var replies, values []rediscmd.Reply // values: the GETs of a split read
	switch {
	case plain:
		replies = c.getPlainBatch(rctx, keys)
	case split:
		// One transaction per slot (tracked, or not), each key's script
		// followed by its value's GET.
		send := c.sendTransactions
		if tracked {
			send = c.sendTracked
		}
		pairs := readScript.ExecBatchThen(rctx, c.redis, send, keys, args, func(i int) rueidis.Completed {
			return c.valueGet(keys[i][0])
		})
		replies, values = make([]rediscmd.Reply, len(keys)), make([]rediscmd.Reply, len(keys))
		for i := range keys {
			replies[i], values[i] = pairs[2*i], pairs[2*i+1]
		}
	case tracked:
		replies = readScript.ExecBatch(rctx, c.redis, c.sendTracked, keys, args)
	default:
		replies = readScript.ExecBatch(rctx, c.redis, c.sendPlain, keys, args)
	}
	c.recordPerSlot(ctx, keys, replies)
	for j, i := range sent {
		key := req.calls[i].key
		if !tracked {
			c.readUntracked(key)
		}
		var fill *tier.Ticket
		if tickets != nil {
			fill = &tickets[i]
		}
		var err error
		if plain {
			results[i], err = c.settlePlain(key, replies[j].Msg, replies[j].Err, gen, req.now, at, nil)
		} else if err = c.failure(replies[j].Err); err == nil {
			var value *rueidis.RedisMessage
			if split {
				value = &values[j].Msg
			}
			results[i], err = c.settle(key, replies[j].Msg, value, fill, req.now, at, nil)
		}
		if err != nil {
			results[i] = readResult[T]{state: stateFailed, err: err, sent: true}
			continue
		}
		results[i].gen = gen
	}
}

// readOne is read for the one call of req, with a round trip of its own;
// a failed read's error is returned apart (its result's err is unset).
// into, when not nil, receives a hit that does not enter the local tier, so
// that a caller that only looks at the item spares its allocation (Get:
// the error apart keeps into off the heap).
func (c *Cache[T]) readOne(ctx context.Context, req readRequest, into *item[T]) (readResult[T], error) {
	call := req.calls[0]
	tracked := c.admit(call.key) || req.tracked
	var ticket tier.Ticket
	if tracked && c.local != nil {
		ticket = c.local.ticket(call.key) // before the cache's generation, as in read
	}
	rctx, done, gen, err := c.startRead(ctx, req)
	defer done()
	if err != nil {
		return readResult[T]{state: stateFailed}, err
	}
	k := c.redisKeys(call)
	if !c.breaker.Allow(k[0]) {
		return readResult[T]{state: stateFailed}, errCircuitOpen
	}
	if !tracked && call.mode == readOnly && c.plainGets {
		return c.getPlain(ctx, rctx, call.key, k[0], gen, req.now, into)
	}
	send, sendMulti, fill := c.conn.DoUntracked, c.conn.DoUntrackedMulti, (*tier.Ticket)(nil)
	if tracked {
		send, sendMulti = c.conn.DoTracked, c.conn.DoTrackedMulti
		if c.local != nil {
			fill = &ticket
		}
	}
	at := wallClock.read()
	var msg rueidis.RedisMessage
	var value *rueidis.RedisMessage // the value's GET, when split
	if c.splitReads(tracked, req.calls) {
		var get rueidis.RedisMessage
		msg, get, err = readScript.ExecThen(rctx, c.redis, sendMulti, k, c.readArgs(call.mode, call.token, gen, true), func() rueidis.Completed {
			return c.valueGet(k[0])
		})
		value = &get
	} else {
		msg, err = readScript.Exec(rctx, c.redis, send, k, c.readArgs(call.mode, call.token, gen, false))
	}
	c.breaker.Record(ctx, k[0], err)
	if !tracked {
		c.readUntracked(call.key)
	}
	if err != nil {
		return readResult[T]{state: stateFailed, sent: true}, c.failure(err)
	}
	res, err := c.settle(call.key, msg, value, fill, req.now, at, into)
	res.gen = gen
	return res, err
}

// getPlain is readOne for an untracked Get when c.plainGets: a plain GET of
// key's value, redisKey, which the Cache then checks against the generation gen
// as readScript does, for less of Redis's time than the script. Nothing
// else of the script is needed there: no local tier keeps the reply, so
// it needs no PTTL for the tier's expiry, and without a stale window a
// value's soft expiry is its key's, past which Redis serves nothing.
func (c *Cache[T]) getPlain(ctx, rctx context.Context, key, redisKey, gen string, now int64, into *item[T]) (readResult[T], error) {
	at := wallClock.read()
	msg, err := c.conn.DoUntracked(rctx, c.redis.B().Get().Key(redisKey).Build())
	c.breaker.Record(ctx, redisKey, err)
	c.readUntracked(key)
	return c.settlePlain(key, msg, err, gen, now, at, into)
}

// getPlainBatch is getPlain's read for GetMany: the GET of each key's
// value (keys[i][0]) in one pipeline.
func (c *Cache[T]) getPlainBatch(ctx context.Context, keys [][]string) []rediscmd.Reply {
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = c.valueGet(k[0])
	}
	replies := make([]rediscmd.Reply, len(keys))
	for i, res := range c.redis.DoMulti(ctx, cmds...) {
		replies[i].Msg, replies[i].Err = res.ToMessage()
	}
	return replies
}

// settlePlain turns the reply to a plain GET of key (msg, or its error
// err) into a readResult, as settle does for readScript's: a value of a
// generation older than gen is a miss, as the script makes it. The reply
// enters no local tier.
func (c *Cache[T]) settlePlain(key string, msg rueidis.RedisMessage, err error, gen string, now, sent int64, into *item[T]) (readResult[T], error) {
	if rueidis.IsRedisNil(err) {
		return readResult[T]{state: stateMiss, gen: gen}, nil
	}
	if err != nil {
		return readResult[T]{state: stateFailed, sent: true}, c.failure(err)
	}
	s, err := msg.ToString()
	if err != nil {
		return readResult[T]{state: stateFailed, sent: true}, fmt.Errorf("cache: unexpected reply to a read: %v", msg)
	}
	if older, err := olderGeneration(s, gen); err != nil || older {
		return readResult[T]{state: stateMiss, gen: gen}, err
	}
	// A pttl of -1 as for a key without expiry: the item's expiry is then
	// TTL from now, which no Get reaches.
	if it := c.accept(key, s, -1, nil, now, sent, into); it != nil {
		return readResult[T]{state: stateHit, item: it, gen: gen}, nil
	}
	return readResult[T]{state: stateMiss, gen: gen}, nil
}

// startRead bounds ctx for req's read (the function to call when done) and
// returns the cache's generation to read in.
func (c *Cache[T]) startRead(ctx context.Context, req readRequest) (context.Context, context.CancelFunc, string, error) {
	var rctx context.Context
	var done context.CancelFunc
	if req.beforeLoad {
		rctx, done = c.deadline.boundBeforeLoad(ctx, req.now)
	} else {
		rctx, done = c.deadline.bound(ctx, req.now)
	}
	gen, err := c.currentGeneration(ctx, rctx)
	return rctx, done, gen, err
}

// recordPerSlot tells the breaker of each slot of keys (whose replies are
// replies) the outcome of its part of a read, once per slot, as a round
// trip of its own would.
func (c *Cache[T]) recordPerSlot(ctx context.Context, keys [][]string, replies []rediscmd.Reply) {
	if len(keys) == 1 || c.redis.Mode() != rueidis.ClientModeCluster {
		var err error
		for _, r := range replies {
			if err = r.Err; err != nil && !rediscmd.IsNoScript(err) {
				break
			}
		}
		c.breaker.Record(ctx, keys[0][0], err)
		return
	}
	seen := make(map[uint16]struct{}, len(keys))
	for j, k := range keys {
		slot := keyspace.KeySlot(k[0])
		if _, ok := seen[slot]; !ok {
			seen[slot] = struct{}{}
			c.breaker.Record(ctx, k[0], replies[j].Err)
		}
	}
}

// sendTracked is the BatchSender of tracked reads: one transaction per
// cluster slot, all in one pipeline (transport.Conn.DoTrackedBatches).
func (c *Cache[T]) sendTracked(ctx context.Context, cmds rueidis.Commands, keys [][]string) ([]rueidis.RedisMessage, []error) {
	return c.sendBySlot(ctx, cmds, keys, c.conn.DoTrackedBatches)
}

// sendTransactions is the BatchSender of split untracked reads: one
// transaction per cluster slot, all in one pipeline
// (transport.Conn.DoUntrackedBatches).
func (c *Cache[T]) sendTransactions(ctx context.Context, cmds rueidis.Commands, keys [][]string) ([]rueidis.RedisMessage, []error) {
	return c.sendBySlot(ctx, cmds, keys, c.conn.DoUntrackedBatches)
}

// sendBySlot groups cmds by the cluster slot of their keys, in order, and
// sends each group as one batch of do.
func (c *Cache[T]) sendBySlot(ctx context.Context, cmds rueidis.Commands, keys [][]string, do func(context.Context, ...transport.TrackedBatch) ([][]rueidis.RedisMessage, []error)) ([]rueidis.RedisMessage, []error) {
	bySlot := map[uint16]int{}
	var batches []transport.TrackedBatch
	var members [][]int
	cluster := c.redis.Mode() == rueidis.ClientModeCluster
	for i, cmd := range cmds {
		slot := uint16(0)
		if cluster {
			slot = keyspace.KeySlot(keys[i][0])
		}
		b, ok := bySlot[slot]
		if !ok {
			b = len(batches)
			bySlot[slot] = b
			batches = append(batches, transport.TrackedBatch{SlotKey: keys[i][0]})
			members = append(members, nil)
		}
		batches[b].Cmds = append(batches[b].Cmds, cmd)
		members[b] = append(members[b], i)
	}
	msgs, errs := make([]rueidis.RedisMessage, len(cmds)), make([]error, len(cmds))
	replies, batchErrs := do(ctx, batches...)
	for b, batch := range members {
		for j, i := range batch {
			if errs[i] = batchErrs[b]; errs[i] == nil {
				msgs[i] = replies[b][j]
				errs[i] = msgs[i].Error()
			}
		}
	}
	return msgs, errs
}

// sendPlain is the BatchSender of untracked calls (reads, writes): one
// pipeline.
func (c *Cache[T]) sendPlain(ctx context.Context, cmds rueidis.Commands, _ [][]string) ([]rueidis.RedisMessage, []error) {
	msgs, errs := make([]rueidis.RedisMessage, len(cmds)), make([]error, len(cmds))
	for i, res := range c.redis.DoMulti(ctx, cmds...) {
		msgs[i], errs[i] = res.ToMessage()
	}
	return msgs, errs
}

// settle turns readScript's reply for key into a readResult (stateFailed
// with the error of a reply it does not expect); value is the reply of the
// GET sent after a split read (splitReads), nil for a read by the script
// alone; fill is key's ticket of the local tier taken before a tracked
// request (nil: the reply may not enter the tier), and sent the wall clock
// when it was sent.
func (c *Cache[T]) settle(key string, msg rueidis.RedisMessage, value *rueidis.RedisMessage, fill *tier.Ticket, now, sent int64, into *item[T]) (readResult[T], error) {
	reply, err := msg.ToArray()
	if err != nil || len(reply) == 0 {
		return readResult[T]{state: stateFailed, sent: true}, fmt.Errorf("cache: unexpected reply to a read: %v", msg)
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
		if value != nil {
			var err error
			if s, err = value.ToString(); err != nil {
				break // the transaction kept writes out: the value is there
			}
		}
		pttl, _ := reply[2].AsInt64()
		if it := c.accept(key, s, pttl, fill, now, sent, into); it != nil {
			return readResult[T]{state: stateHit, item: it}, nil
		}
		return readResult[T]{state: stateMiss}, nil
	}
	return readResult[T]{state: stateFailed, sent: true}, fmt.Errorf("cache: unexpected reply to a read: %v", msg)
}

// accept turns the bytes s under key, which expire in pttl ms, into an
// item, and inserts it into the local tier if the read was tracked (fill,
// key's ticket, is not nil), the ticket still holds and the tier does not
// hold a newer version. It returns nil for bytes that do not
// decode (reported to the observer). A key without expiry was not written
// by a Cache; its item is served but not kept.
//
// The item expires localExpiryMargin before pttl after sent, the wall
// clock before the read was sent: Redis measured pttl later, so the local
// tier never serves a value after Redis stopped serving it (past a
// TTLFunc's instant, say).
func (c *Cache[T]) accept(key, s string, pttl int64, fill *tier.Ticket, now, sent int64, into *item[T]) *item[T] {
	c.noteStoredSize(len(s))
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
	keep := pttl > 0 && fill != nil
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
		e.Value.init(key, v, version, env, hardAt, c.o.EarlyRefreshBeta)
		c.local.insert(e, *fill)
		return &e.Value
	}
	// Kept apart from the branch above, so that into does not escape.
	if into == nil {
		into = new(item[T])
	}
	into.init(key, v, version, env, hardAt, c.o.EarlyRefreshBeta)
	return into
}

// admit reports whether a remote read of key goes tracked, so that its
// reply may enter the local tier: when key was read remotely a short while
// ago (decodedTier.admit). false without a local tier.
func (c *Cache[T]) admit(key string) bool {
	if c.local == nil {
		return false
	}
	if c.admission != nil {
		return c.admission(key)
	}
	return c.local.admit(key)
}

// readUntracked ends an untracked read of key after its reply, with a local
// tier (decodedTier.readUntracked).
func (c *Cache[T]) readUntracked(key string) {
	if c.local != nil {
		c.local.readUntracked(key)
	}
}

// keysOf returns key's Redis keys: the value's and the guard's (see
// scripts.go), in that order.
func (c *Cache[T]) keysOf(key string) []string {
	return c.space.Keys(key, valueKind, guardKind)
}

// The kinds of a cache's Redis keys: a key's value and guard, and the
// cache's generation (whose id is empty: no key can have it).
const (
	valueKind      = ""
	guardKind      = "l"
	generationKind = "g"
)
