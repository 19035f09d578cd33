// Package clientconn is how the packages built on a typecache.Client reach
// what the root package does not export: the Client's transport.Conn
// (tracked reads, the direct client, the breakers' Allow and Record).
//
// The root imports internal/transport, so transport cannot name the root's
// Client; the root hands transport an accessor in its init, and this
// package, which imports both, types it.
package clientconn

import (
	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/transport"
)

// Of returns c's connection. A feature package calls it once, in its
// constructor, and keeps the result beside the Client.
func Of(c *typecache.Client) *transport.Conn { return transport.ConnOf(c) }
