package transport

import (
	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/keyspace"
)

// ErrPeerClosed is the error of a call the direct client could not send on
// any connection because the server had closed each it tried.
var ErrPeerClosed = errPeerClosed

// RouteAllTo makes b take every slot for one served by the node at addr.
func RouteAllTo(b *Breaker, addr string) {
	b.setRoute([]slotRange{{0, keyspace.ClusterSlots - 1, addr}})
}

// NewDirectClient returns a direct client (see Conn.Direct) built from opt,
// without the reply poll.
func NewDirectClient(opt rueidis.ClientOption) (rueidis.Client, error) {
	return newDirectClient(opt, nil)
}

// HoldWaiting counts n more calls as awaiting replies on c's direct
// client, until release is called.
func HoldWaiting(c *Conn, n int32) (release func()) {
	c.poll.waiting.Add(n)
	return func() { c.poll.waiting.Add(-n) }
}

// Waiting returns how many calls c counts as awaiting replies.
func Waiting(c *Conn) int32 { return c.poll.waiting.Load() }
