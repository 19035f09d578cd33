package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/rediscmd"
)

// writeMarkWindow is how long a write's mark stays at least: in the guard,
// after a delete, or in the value, which lives as long or has the guard
// keep its mark (see scripts.go). A Put that took longer than this (from
// the mark it noted until its cache update reaches Redis) cannot learn
// whether another write came in between, since that write's mark may have
// expired, and deletes the entry instead of storing it.
const writeMarkWindow = 10 * time.Second

// writeSendMargin is how much later than it was sent a Put's cache update
// may run in Redis: a Put that took longer than writeMarkWindow less this
// margin deletes.
const writeSendMargin = time.Second

// anyMark is the mark argument of Set and Delete: no check (see
// writeScript). unknownMark is a mark no write leaves: a Put that could not
// read the key's mark deletes.
const (
	anyMark     = "*"
	unknownMark = "?"
)

// write is one key's write for writeMany.
type write struct {
	key  string
	del  bool
	data []byte
	ttl  time.Duration
	// mark, for a Put, is the key's write mark it noted before it wrote the
	// source: another mark at the update means a conflict. anyMark for Set
	// and Delete.
	mark string
}

// writeMany sends ws in one pipeline (one round trip per node) and treats
// every key as written by this process (see ownWrite), even after an error:
// a write that timed out may have happened, and a Put or a Delete whose
// cache update was refused follows a source write that did. conflicts[i] reports that a
// Put's store became a delete (see writeScript). A write to a node whose
// breaker is open fails with ErrUnavailable, without a round trip.
func (c *Cache[T]) writeMany(ctx context.Context, ws []write) (errs []error, conflicts []bool) {
	errs, conflicts = make([]error, len(ws)), make([]bool, len(ws))
	defer func() {
		for _, w := range ws {
			c.ownWrite(w.key)
		}
	}()
	keys, args := make([][]string, 0, len(ws)), make([][]string, 0, len(ws))
	sent := make([]int, 0, len(ws)) // indexes in ws of keys[i]
	for i, w := range ws {
		if k := c.keysOf(w.key); c.breaker.Allow(k[0]) {
			keys, sent = append(keys, k), append(sent, i)
		} else {
			errs[i] = ErrUnavailable
		}
	}
	if len(sent) == 0 {
		return errs, conflicts
	}
	rctx, done := c.deadline.bound(ctx, c.now())
	defer done()
	gen := "0" // deletes tag nothing
	if slices.ContainsFunc(sent, func(i int) bool { return !ws[i].del }) {
		var err error
		if gen, err = c.currentGeneration(ctx, rctx); err != nil {
			for _, i := range sent {
				errs[i] = err
			}
			return errs, conflicts
		}
	}
	for _, i := range sent {
		w := ws[i]
		op := "set"
		if w.del {
			op = "del"
		}
		args = append(args, []string{op, rueidis.BinaryString(w.data), rediscmd.Millis(w.ttl), w.mark, c.markMillis, gen})
	}
	for j, res := range c.runScript(rctx, writeScript, keys, args) {
		n, err := res.AsInt64()
		i := sent[j]
		errs[i], conflicts[i] = c.failure(err), n == 1
		c.breaker.Record(ctx, keys[j][0], err)
	}
	return errs, conflicts
}

// ownWrite makes this process's next reads of key see its write (read your
// writes): it drops key from the local tier, moving its generation so that
// reads in flight do not insert what they read before the write, and
// forgets key's flight, so that later callers do not join a load that began
// before the write. It runs after the write's reply: a read that starts
// afterwards reaches Redis after the write.
//
// An own write never enters the local tier: nothing tracks it, and an
// untracked local entry would miss the next write of another process.
func (c *Cache[T]) ownWrite(key string) {
	if c.local != nil {
		c.local.ownWrite(key)
	}
	c.flights.forget(key)
}

// maxEncodeHint bounds the buffer encode starts with: one large value
// must not make every later encode allocate as much.
const maxEncodeHint = 64 << 10

// encode builds the envelope of v (or of an absence) for key, with the
// stale window of its lifetime and whether that ends in a hard expiry.
func (c *Cache[T]) encode(key string, v T, absent bool, life lifetime, loadTime time.Duration) ([]byte, error) {
	var flags byte
	if absent {
		flags |= flagAbsent
	}
	if life.exact {
		flags |= flagHardExpiry
	}
	mean := c.storedSize.Load()
	data := appendEnvelope(make([]byte, 0, max(64, min(mean+mean/8, maxEncodeHint))), flags, life.stale, loadTime)
	if !absent {
		var err error
		if data, err = c.o.Codec.Append(data, v); err != nil {
			return nil, keyErr("encode", key, err)
		}
	}
	c.noteStoredSize(len(data))
	if len(data) > c.o.MaxValueBytes {
		return nil, fmt.Errorf("%w: %q encodes to %d bytes, more than Options.MaxValueBytes (%d)", ErrTooLarge, key, len(data), c.o.MaxValueBytes)
	}
	return data, nil
}

// jittered spreads ttl by ±Options.Jitter.
func (c *Cache[T]) jittered(ttl time.Duration) time.Duration {
	if c.o.Jitter > 0 {
		ttl = time.Duration(float64(ttl) * (1 + c.o.Jitter*(2*rand.Float64()-1)))
	}
	return max(ttl, MinTTL)
}

// lifetime is how long a value stored now lives in Redis (hard), and the
// stale window at the end of that (part of hard). exact says that no tier
// may serve the value after hard, by the precise clock (Options.TTLFunc's).
type lifetime struct {
	hard, stale time.Duration
	exact       bool
}

// lifetimeOf returns the lifetime of v stored under key now with cfg (see
// Options.TTLFunc): WithTTL's or Options.TTL, jittered both ways, plus the
// stale window; else TTLFunc's result, jittered shorter only, without stale
// window, and gone from Redis by then. hard is 0 when v must not be stored:
// it would expire within two milliseconds.
func (c *Cache[T]) lifetimeOf(key string, v T, cfg setConfig) lifetime {
	if !cfg.withTTL && c.o.TTLFunc != nil {
		if d := c.o.TTLFunc(key, v); d > 0 {
			d = min(d, MaxTTL)
			if c.o.Jitter > 0 {
				d = time.Duration(float64(d) * (1 - c.o.Jitter*rand.Float64()))
			}
			// Redis serves a key through the whole millisecond its expiry
			// falls in: ask for one less, so that it is gone by d.
			if d -= time.Millisecond; d < MinTTL {
				d = 0
			}
			return lifetime{hard: d, exact: true}
		}
	}
	return lifetime{hard: c.jittered(cfg.ttl) + c.o.StaleTTL, stale: c.o.StaleTTL}
}

// loadConfig is the setConfig of values stored by loads: Options.TTL, or
// TTLFunc's.
func (c *Cache[T]) loadConfig() setConfig { return setConfig{ttl: c.o.TTL} }

// setWrite returns the write that stores v under key with cfg: a delete
// when v would expire within a millisecond, so that no older value stays.
func (c *Cache[T]) setWrite(key string, v T, cfg setConfig) (write, error) {
	life := c.lifetimeOf(key, v, cfg)
	if life.hard == 0 {
		return write{key: key, del: true, mark: anyMark}, nil
	}
	data, err := c.encode(key, v, false, life, 0)
	if err != nil {
		return write{}, err
	}
	return write{key: key, data: data, ttl: life.hard, mark: anyMark}, nil
}

// writeMark returns key's write mark for a Put that is about to write the
// source of truth: the version of the value the local tier holds (no
// round trip: a write since then would have dropped it, or will, and then
// the Put only deletes when it needn't have), else the key's mark read
// from Redis. unknownMark when it cannot be read.
func (c *Cache[T]) writeMark(ctx context.Context, key string) string {
	if it, _ := c.localLookup(key, c.now()); it != nil {
		return "v" + strconv.FormatUint(it.version, 10)
	}
	keys := c.keysOf(key)
	if !c.breaker.Allow(keys[0]) {
		return unknownMark
	}
	rctx, done := c.deadline.bound(ctx, c.now())
	msg, err := markScript.Exec(rctx, c.redis, c.conn.DoUntracked, keys, nil)
	var mark string
	if err == nil {
		mark, err = msg.ToString()
	}
	done()
	c.breaker.Record(ctx, keys[0], err)
	if err != nil {
		return unknownMark
	}
	return mark
}

// runScript runs s once per entry of keys and args (keys[i] in one slot
// each): a lone call through the connection that suits a call whose reply
// nothing keeps (transport.Conn.DoUntracked: read on the caller's
// goroutine while few calls are out), several in one pipeline, one round
// trip per node.
func (c *Cache[T]) runScript(ctx context.Context, s *rediscmd.Script, keys, args [][]string) []rediscmd.Reply {
	switch len(keys) {
	case 0:
		return nil
	case 1:
		msg, err := s.Exec(ctx, c.redis, c.conn.DoUntracked, keys[0], args[0])
		return []rediscmd.Reply{{Msg: msg, Err: err}}
	}
	return s.ExecBatch(ctx, c.redis, c.sendPlain, keys, args)
}
