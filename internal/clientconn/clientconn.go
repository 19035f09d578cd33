// Package clientconn is how the packages built on a typecache.Client reach
// what the root package does not export: the Client's transport.Conn
// (tracked reads, the direct client, the breakers' Allow and Record), and
// package sentinels that match the root's.
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

// Unavailable returns a package's sentinel for a call refused because Redis
// is unavailable, worded "<pkg>: redis unavailable (circuit open)": it
// matches typecache.ErrUnavailable with errors.Is, so that one check
// serves every package.
func Unavailable(pkg string) error {
	return &sentinel{msg: pkg + ": redis unavailable (circuit open)", root: typecache.ErrUnavailable}
}

// Closed returns a package's sentinel for a call after its Close, worded
// msg: it matches typecache.ErrClosed with errors.Is.
func Closed(msg string) error { return &sentinel{msg: msg, root: typecache.ErrClosed} }

// sentinel is a package's error that matches a root sentinel.
type sentinel struct {
	msg  string
	root error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.root }
