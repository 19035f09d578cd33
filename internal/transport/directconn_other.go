//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package transport

import "net"

// directConnOf returns conn unchanged: where the socket cannot be reached
// without blocking, a write on a connection the server closed while idle
// fails when its reply is awaited, as on any client, and a read parks at
// once.
func directConnOf(conn net.Conn, _ *replyPoll) net.Conn { return conn }
