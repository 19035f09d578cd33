package lock

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/redis/rueidis"
)

// leaseScript is one of the lock's Lua scripts, which all answer an
// integer.
type leaseScript struct {
	lua  *rueidis.Lua
	body string
	sha1 string
}

func newLeaseScript(body string) *leaseScript {
	sum := sha1.Sum([]byte(body))
	return &leaseScript{lua: rueidis.NewLuaScript(body), body: body, sha1: hex.EncodeToString(sum[:])}
}

// run sends s with keys and args to Redis and returns its integer answer.
// Every round trip of a lease script goes through here, past the client's
// breaker of the lock's node: while it is open, run fails at once with
// errCircuitOpen, and every outcome feeds it.
func (lk *Locker) run(ctx context.Context, s *leaseScript, keys, args []string) (int64, error) {
	breaker := lk.client.Breaker()
	if !breaker.Allow(keys[0]) {
		return 0, errCircuitOpen
	}
	n, err := lk.send(ctx, s, keys, args)
	breaker.Record(ctx, keys[0], err)
	return n, err
}

// errCircuitOpen is ErrUnavailable as the cause of an error that already
// says "lock: <op> <name>": it reads without a second package prefix.
var errCircuitOpen error = circuitOpen{}

type circuitOpen struct{}

func (circuitOpen) Error() string        { return "redis unavailable (circuit open)" }
func (circuitOpen) Is(target error) bool { return target == ErrUnavailable }

// send is run's round trip.
//
// On a client with client-side caching, rueidis hands every command to a
// connection's writer and reader goroutines, so a lone caller waits for two
// goroutine switches besides Redis. When no other round trip of this Locker
// is in flight, send sends the script instead on a connection of rueidis's
// pool of unshared connections and reads the answer on the caller's own
// goroutine, as rueidis itself does for a lone caller on a client without
// caching. It keeps rueidis's condition for that: ctx has a deadline or can
// never be cancelled, since the connection's deadline is then the only
// thing that can end the wait. At most one such connection per Locker is in
// use at a time: concurrent callers share the pipelined connections as
// before.
func (lk *Locker) send(ctx context.Context, s *leaseScript, keys, args []string) (int64, error) {
	if _, ok := ctx.Deadline(); (ok || ctx.Done() == nil) && lk.alone.CompareAndSwap(false, true) {
		n, err := lk.runAlone(ctx, s, keys, args)
		lk.alone.Store(false)
		if !retryPipelined(err) {
			return n, err
		}
	}
	return s.lua.Exec(ctx, lk.redis, keys, args).AsInt64()
}

// runAlone sends s by EVALSHA on an unshared connection, and by EVAL if
// Redis does not know the script yet.
func (lk *Locker) runAlone(ctx context.Context, s *leaseScript, keys, args []string) (int64, error) {
	cmd := lk.redis.B().Evalsha().Sha1(s.sha1).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()
	n, err := lk.answer.read(lk.redis.DoStream(ctx, cmd))
	if re, ok := errors.AsType[*rueidis.RedisError](err); ok && re.IsNoScript() {
		cmd = lk.redis.B().Eval().Script(s.body).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()
		n, err = lk.answer.read(lk.redis.DoStream(ctx, cmd))
	}
	if err != nil && ctx.Err() != nil {
		// The connection's deadline was ctx's: say so, as the pipelined
		// path does.
		err = ctx.Err()
	}
	return n, err
}

// retryPipelined reports whether err says Redis did not run the script and
// the pipelined path, which follows cluster redirections and refreshes the
// cluster's topology, should send it again.
func retryPipelined(err error) bool {
	re, ok := errors.AsType[*rueidis.RedisError](err)
	if !ok {
		return false
	}
	_, moved := re.IsMoved()
	_, ask := re.IsAsk()
	_, redirect := re.IsRedirect()
	return moved || ask || redirect || re.IsTryAgain() || re.IsClusterDown() || re.IsLoading()
}

// digits collects the decimal digits of an integer answer. A Locker keeps
// one for its lone round trip, so that reading an answer allocates nothing.
type digits struct {
	b [20]byte
	n int
}

// read reads the one integer answer of stream.
func (d *digits) read(stream rueidis.RedisResultStream) (int64, error) {
	d.n = 0
	if _, err := stream.WriteTo(d); err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(d.b[:d.n]), 10, 64)
}

func (d *digits) Write(p []byte) (int, error) {
	if len(p) > len(d.b)-d.n {
		return 0, errors.New("lock: a script answered more than an integer")
	}
	d.n += copy(d.b[d.n:], p)
	return len(p), nil
}
