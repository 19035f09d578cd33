package typecache

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/transport"
)

// A Breaker keeps callers from waiting on a Redis node that is down. A
// Client has one breaker per node (per master on a cluster, where it knows
// which node serves each slot), shared by every package built on the
// Client: on a cluster, one dead shard refuses only the keys it serves. It
// is safe for concurrent use by multiple goroutines.
//
// A node's breaker opens after the failures set by [WithBreaker], after two
// failures a second apart with no success in between (a stalled node), or
// at once on a failure that says the node refuses connections
// ([Unreachable]). A call whose caller's own deadline ran out (a request
// budget) is not a failure: it makes the Client check the node in the
// background, one PING at a time bounded by a second, whose outcome counts
// (no reply within the second opens the breaker). While it is open, every package refuses the node's keys
// without a round trip (each with an error matching [ErrUnavailable]), and
// the Client probes the node in the background every cooldown, so that no
// caller ever waits on a node known to be down; the first success, the
// probe's or a call's already in flight, closes it. Replies of the server,
// errors included (WRONGTYPE, a nil), are successes: the node is up.
//
// Operators read its state with Open and OnOpen. An application sends its
// own commands past it with [Guard]. A nil *Breaker (breakers turned off)
// is never open.
type Breaker struct {
	nodes *transport.Breaker
}

// Open reports whether the breaker of the node serving key is open: calls
// about key are refused without a round trip until a probe or a call
// already in flight gets a reply from the node.
func (b *Breaker) Open(key string) bool {
	return !b.transport().Allow(key)
}

// OnOpen registers f to be called each time a node's breaker opens, and
// returns a function that removes it. f runs on the goroutine of the call
// that opened it and must not block.
func (b *Breaker) OnOpen(f func()) (remove func()) {
	return b.transport().OnOpen(f)
}

// transport returns the breakers b stands for; nil when b is.
func (b *Breaker) transport() *transport.Breaker {
	if b == nil {
		return nil
	}
	return b.nodes
}

// Guard makes call, one round trip about key, past b's breaker of key's
// node, as every package does for its own: while it is open, Guard returns
// refused at once without calling; otherwise it returns call's outcome,
// which counts with every package's toward opening or closing the breaker.
// b may be nil (breakers turned off): call is then just made. When call
// fails because the Client is closed, the error also matches [ErrClosed].
func Guard[T any](ctx context.Context, b *Breaker, key string, refused error, call func() (T, error)) (T, error) {
	v, err := transport.Guard(ctx, b.transport(), key, refused, call)
	if err != nil && errors.Is(err, rueidis.ErrClosing) {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return v, err
}
