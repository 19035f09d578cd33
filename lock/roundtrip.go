package lock

import (
	"context"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/rediscmd"
)

// run sends s with keys and args to Redis and returns its integer answer.
// Every round trip of a lease script goes through here, past the client's
// breaker of the lock's node: while it is open, run fails at once with
// errCircuitOpen, and every outcome feeds it. After the client's Close it
// fails at once with ErrClosed (clientconn.Guard).
//
// The script goes through the client's direct connections (transport.Conn.Direct):
// a lone call is written and read on the caller's goroutine, not handed to
// a pipeline's writer and reader goroutines, and a call about to go on a
// connection the server closed while idle goes on a new one instead
// (TestFirstCallAfterRestart).
func (lk *Locker) run(ctx context.Context, s *rediscmd.Script, keys, args []string) (int64, error) {
	return clientconn.Guard(ctx, lk.conn, keys[0], errCircuitOpen, ErrClosed, func() (int64, error) {
		msg, err := s.Exec(ctx, lk.conn.Direct(), lk.send, keys, args)
		if err != nil {
			return 0, err
		}
		return msg.AsInt64()
	})
}
