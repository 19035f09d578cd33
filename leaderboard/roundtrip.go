package leaderboard

import (
	"context"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/rediscmd"
)

// guard makes call, one round trip about the board whose sorted set is
// set, past the client's breaker of the board's node (both keys of a board
// live in one slot; typecache.Guard): while it is open, guard fails at once
// with errCircuitOpen, and once the board or its client is closed, with
// errClosed (clientconn.Guard). Every command of a Board goes through here,
// through exec or do.
func (b *Board) guard(ctx context.Context, set string, call func() (rueidis.RedisMessage, error)) (rueidis.RedisMessage, error) {
	if err := b.refused(); err != nil {
		return rueidis.RedisMessage{}, err
	}
	return clientconn.Guard(ctx, b.conn, set, errCircuitOpen, ErrClosed, call)
}

// exec runs script on the board of keys k with args.
func (b *Board) exec(ctx context.Context, script *rediscmd.Script, k *boardKeys, args []string) (rueidis.RedisMessage, error) {
	return b.guard(ctx, k.set, func() (rueidis.RedisMessage, error) {
		return script.Exec(ctx, b.redis, b.send, []string{k.set, k.hash}, args)
	})
}

// do sends cmd, a command about the board whose sorted set is set, whose
// reply nothing keeps (the top cache reads through its own tracked call):
// by conn.DoUntracked, as the scripts go, so that a lone caller is read on
// its own goroutine.
func (b *Board) do(ctx context.Context, set string, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	return b.guard(ctx, set, func() (rueidis.RedisMessage, error) { return b.send(ctx, cmd) })
}
