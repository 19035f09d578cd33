package counter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/transport"
)

// Key kinds of the counter package (see internal/keyspace): a Counter's
// value is kindValue, a Windowed's windows are kindWindow followed by the
// window's length and index.
const (
	kindValue  = "c"
	kindWindow = "w"
)

// A Counter is a named set of int64 counters in Redis, each under a key of
// the caller's choosing, each expiring Options.TTL after its first
// increment. It is safe for concurrent use by multiple goroutines; every
// call is one round trip (GetMany: one per cluster node) and the Counter
// holds no goroutines or connections of its own, so it has no Close: once
// its typecache.Client is closed, every call returns ErrClosed.
//
// Every process that builds a Counter with the same name on the same Redis
// deployment shares its counters.
type Counter struct {
	conn  *transport.Conn
	redis rueidis.Client
	send  rediscmd.Sender // conn.DoUntracked
	space keyspace.Space
	opts  Options
	ttl   string // Options.TTL in milliseconds, the script's argument
}

// New returns the set of counters called name (letters, digits, '.', '_',
// '-' and '@'; it is part of every key) in c's Redis deployment. It fails,
// naming the field, when name or opts is invalid; opts is not modified.
func New(c *typecache.Client, name string, opts Options) (*Counter, error) {
	space, o, err := checkArgs("New", c, name, opts)
	if err != nil {
		return nil, err
	}
	o.Observer = observe.Named(o.Observer, name, Observer(NoopObserver{}))
	conn := clientconn.Of(c)
	return &Counter{conn: conn, redis: c.Redis(), send: conn.DoUntracked, space: space, opts: o, ttl: rediscmd.Millis(o.TTL)}, nil
}

// Options returns the counter's options with the defaults filled in.
func (c *Counter) Options() Options { return c.opts }

// addScript adds ARGV[1] to the counter KEYS[1] and gives the key the
// expiry ARGV[2] (ms) unless it has one, in one atomic step: no key of a
// counter ever lives without an expiry, whatever crashes between calls.
// INCRBY refuses to overflow int64 (the reply is then its error, and the
// value is unchanged). Lua never holds a count: its numbers are doubles,
// exact only up to 2^53, so the new value is returned as GET's string
// rather than as INCRBY's reply converted to a Lua number.
var addScript = rediscmd.NewScript(`
local r = redis.pcall('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX')
if type(r) == 'table' and r.err then return r end
return redis.call('GET', KEYS[1])
`)

// Add adds delta (of any sign) to key's counter and returns the new value.
// An absent or expired counter starts from 0 and expires Options.TTL from
// now. A result outside int64 is ErrOverflow, and the counter is unchanged.
func (c *Counter) Add(ctx context.Context, key string, delta int64) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	v, err := add(ctx, c.conn, c.redis, c.send, c.redisKey(key), delta, c.ttl)
	if err != nil {
		return 0, fmt.Errorf("counter: add to %q: %w", key, err)
	}
	return v, nil
}

// add runs addScript once on the Redis key rkey, past conn's breaker (see
// do): it adds delta and gives the key the expiry ttl (ms) if it has none.
func add(ctx context.Context, conn *transport.Conn, redis rueidis.Client, send rediscmd.Sender, rkey string, delta int64, ttl string) (int64, error) {
	return addReply(clientconn.Guard(ctx, conn, rkey, errCircuitOpen, ErrClosed, func() (rueidis.RedisMessage, error) {
		return addScript.Exec(ctx, redis, send, []string{rkey}, addArgs(delta, ttl))
	}))
}

// addArgs are addScript's arguments.
func addArgs(delta int64, ttl string) []string { return []string{strconv.FormatInt(delta, 10), ttl} }

// addReply reads addScript's reply.
func addReply(m rueidis.RedisMessage, err error) (int64, error) {
	v, err := parseValue(m, err)
	if err != nil {
		return 0, redisError(err)
	}
	return v, nil
}

// redisError turns INCRBY's overflow reply into ErrOverflow.
func redisError(err error) error {
	if re, ok := rueidis.IsRedisErr(err); ok && strings.Contains(re.Error(), "overflow") {
		return ErrOverflow
	}
	return err
}

// Get returns key's counter, or 0 when it is absent or expired.
func (c *Counter) Get(ctx context.Context, key string) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	v, err := parseValue(do(ctx, c.conn, c.getCmd(c.redisKey(key))))
	if err != nil {
		return 0, fmt.Errorf("counter: get %q: %w", key, err)
	}
	return v, nil
}

func (c *Counter) getCmd(rkey string) rueidis.Completed {
	return rediscmd.Retried(c.redis.B().Get().Key(rkey).Build())
}

// parseValue reads a GET reply: nil is 0.
func parseValue(m rueidis.RedisMessage, err error) (int64, error) {
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return 0, nil
		}
		return 0, err
	}
	s, err := m.ToString()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the key does not hold an integer: %w", err)
	}
	return v, nil
}

// GetMany returns the counters of keys, in order, absent ones as 0. The
// reads are pipelined: one round trip on a standalone server, one per node
// of a cluster, sent to the nodes in parallel. The keys of a node whose
// breaker is open are not sent, and their errors wrap ErrUnavailable.
func (c *Counter) GetMany(ctx context.Context, keys []string) ([]int64, error) {
	if len(keys) == 0 {
		return []int64{}, nil
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, key := range keys {
		if err := checkKey(key); err != nil {
			return nil, fmt.Errorf("%w (keys[%d])", err, i)
		}
		cmds[i] = c.getCmd(c.redisKey(key))
	}
	values := make([]int64, len(keys))
	var errs []error
	results := roundTrips(ctx, c.conn, len(cmds), func(i int) string { return commandKey(cmds[i]) },
		func(keep []int) []rueidis.RedisResult { return c.redis.DoMulti(ctx, pick(cmds, keep)...) })
	for i, r := range results {
		v, err := parseValue(r.ToMessage())
		if err != nil {
			errs = append(errs, fmt.Errorf("counter: get %q: %w", keys[i], err))
		}
		values[i] = v
	}
	if errs != nil {
		return nil, errors.Join(errs...)
	}
	return values, nil
}

// Reset deletes key's counter: the next Add starts from 0 with a new TTL.
func (c *Counter) Reset(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if _, err := do(ctx, c.conn, c.redis.B().Del().Key(c.redisKey(key)).Build()); err != nil {
		return fmt.Errorf("counter: reset %q: %w", key, err)
	}
	return nil
}

// TTL returns how long key's counter has left to live, or 0 when it is
// absent.
func (c *Counter) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	m, err := do(ctx, c.conn, rediscmd.Retried(c.redis.B().Pttl().Key(c.redisKey(key)).Build()))
	var ms int64
	if err == nil {
		ms, err = m.AsInt64()
	}
	if err != nil {
		return 0, fmt.Errorf("counter: ttl of %q: %w", key, err)
	}
	return time.Duration(max(ms, 0)) * time.Millisecond, nil
}

// redisKey is the Redis key of key's counter.
func (c *Counter) redisKey(key string) string { return c.space.Key(kindValue, key) }
