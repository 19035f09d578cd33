package lock

import (
	"context"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/rediscmd"
)

// run sends s with keys and args to Redis and returns its integer answer.
// Every round trip of a lease script goes through here, past the client's
// breaker of the lock's node: while it is open, run fails at once with
// errCircuitOpen, and every outcome feeds it.
//
// The script goes through the client's pipelined connections, which are
// always reading and so notice at once a connection the server closed. (A
// lone call sent on an idle connection of rueidis's pool would save the
// pipeline's two goroutine handoffs, about a fifth of an uncontended
// Acquire + Release, but the first call after a restart or a killed
// connection would fail on a connection that died while idle:
// TestFirstCallAfterRestart.)
func (lk *Locker) run(ctx context.Context, s *rueidis.Lua, keys, args []string) (int64, error) {
	breaker := lk.client.Breaker()
	if !breaker.Allow(keys[0]) {
		return 0, errCircuitOpen
	}
	n, err := s.Exec(ctx, lk.redis, keys, args).AsInt64()
	breaker.Record(ctx, keys[0], err)
	return n, err
}

// errCircuitOpen is ErrUnavailable as the cause of an error that already
// says "lock: <op> <name>".
var errCircuitOpen = rediscmd.CircuitOpen(ErrUnavailable)
