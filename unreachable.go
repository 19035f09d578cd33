package typecache

import "github.com/typecache/typecache/internal/transport"

// Unreachable reports whether err says that no connection to Redis could be
// made at all (connection refused, no route, an unknown host): the server is
// down or gone, not slow. Such a failure is known at once, so callers need
// not wait for a deadline to give up; a stall (CLIENT PAUSE, a saturated
// server) is not Unreachable.
func Unreachable(err error) bool { return transport.Unreachable(err) }
