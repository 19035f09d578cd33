package counter

import (
	"context"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/transport"
)

// do sends cmd, a command whose first argument is its one key, or a key of
// its one slot (GET, DEL, PTTL, MGET of one key's windows), past conn's
// breaker (clientconn.Guard): refused at once with errCircuitOpen while the
// breaker of the key's node is open, and with errClosed once conn is
// closed. Every command of a Counter, a Windowed or a Buffered about one
// key goes through clientconn.Guard, every batch through roundTrips. Its
// reply is kept by nothing, so it goes by conn.DoUntracked: a lone caller
// is read on its own goroutine, as the scripts' callers are, instead of
// waking the tracking connection's reader and writer goroutines.
func do(ctx context.Context, conn *transport.Conn, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	return clientconn.Guard(ctx, conn, commandKey(cmd), errCircuitOpen, ErrClosed, func() (rueidis.RedisMessage, error) {
		return conn.DoUntracked(ctx, cmd)
	})
}

// commandKey returns the first key of cmd, a command built with its keys
// first (the breaker wants a key: cmd.Slot is not one).
func commandKey(cmd rueidis.Completed) string { return cmd.Commands()[1] }

// roundTrips sends n calls, the i-th about the Redis key key(i), in one
// pipeline, past conn's breakers of their nodes: the calls of the keys
// whose node's breaker is open are refused (their results are
// errCircuitOpen) and the others go; once conn is closed, every call is
// refused with errClosed. send sends the calls of the indexes keep, in
// order (keep is nil when every call goes: see pick), and returns their
// results; roundTrips returns the results of all n, in order, and records
// each outcome.
func roundTrips(ctx context.Context, conn *transport.Conn, n int, key func(i int) string, send func(keep []int) []rueidis.RedisResult) []rueidis.RedisResult {
	if conn.Closed() {
		results := make([]rueidis.RedisResult, n)
		for i := range results {
			results[i] = rueidis.NewErrorResult(errClosed)
		}
		return results
	}
	breaker := conn.Breaker()
	refused := -1 // the first key refused
	for i := range n {
		if !breaker.Allow(key(i)) {
			refused = i
			break
		}
	}
	if refused < 0 {
		results := send(nil)
		for i, r := range results {
			breaker.Record(ctx, key(i), r.Error())
		}
		return results
	}
	// Each key is asked once: those before the first refused were allowed.
	results := make([]rueidis.RedisResult, n)
	keep := make([]int, 0, n-1)
	for i := range n {
		if i < refused || i > refused && breaker.Allow(key(i)) {
			keep = append(keep, i)
		} else {
			results[i] = rueidis.NewErrorResult(errCircuitOpen)
		}
	}
	if len(keep) > 0 {
		for j, r := range send(keep) {
			results[keep[j]] = r
			breaker.Record(ctx, key(keep[j]), r.Error())
		}
	}
	return results
}

// pick returns the elements of s at the indexes keep, in order: all of s
// when keep is nil.
func pick[T any](s []T, keep []int) []T {
	if keep == nil {
		return s
	}
	picked := make([]T, len(keep))
	for j, i := range keep {
		picked[j] = s[i]
	}
	return picked
}
