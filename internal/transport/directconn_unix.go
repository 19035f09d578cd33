//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package transport

import (
	"errors"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// directConn is a connection of the direct client (Conn.Direct).
//
// The first write of each call (no write since the last read: nothing is
// in flight on the connection) first peeks at the socket. If the server
// has closed the connection, or anything is waiting to be read on it (a
// TLS close_notify, a proxy's parting error: no reply is due, so the bytes
// can only say that the connection is done for), it sends nothing and fails
// with errPeerClosed, which rueidis answers by dropping the connection.
// The later writes of a call do not peek: the call's first commands may
// have reached the server and be answered already, so they are written,
// and a failure is found when the replies are awaited.
//
// When the client polls (replyPoll), a read that follows a write polls the
// socket, by the same peek, for up to the poll's window, yielding the
// processor between polls, and reads once the reply is there: a lone caller
// is then woken by its reply rather than by the scheduler, which halves a
// round trip on loopback. Polling stops paying when replies take longer (a
// distant server), so a connection whose polls keep missing polls ever more
// rarely (pollBackoff), and when processors are scarce: when more calls
// await replies than processors are left for them (replyPoll.begin).
type directConn struct {
	net.Conn
	socket syscall.RawConn
	sent   atomic.Bool // a write happened since the last read: a call is in flight

	// Bound once, so that peeking allocates nothing; peek's result is
	// written by peekSocket. Reads and writes each peek (concurrently when
	// rueidis pipelines), so each has its own.
	readPeek, writePeek   func(fd uintptr)
	readState, writeState socketState

	poll    *replyPoll  // the client's; nil or a zero window: no poll
	backoff pollBackoff // used by reads only, which rueidis serializes
}

// socketState is what a peek at a socket found.
type socketState int

const (
	socketEmpty    socketState = iota // open, nothing to read yet
	socketReadable                    // bytes are waiting to be read
	socketClosed                      // the server closed it, or it was reset
)

// directConnOf returns conn with the checks of directConn and poll's
// polling, or conn itself when no socket can be found under it: conn must
// be a syscall.Conn, or have a NetConn method (as *tls.Conn has) leading to
// one.
func directConnOf(conn net.Conn, poll *replyPoll) net.Conn {
	socket := conn
	for {
		if sc, ok := socket.(syscall.Conn); ok {
			raw, err := sc.SyscallConn()
			if err != nil {
				return conn
			}
			c := &directConn{Conn: conn, socket: raw, poll: poll}
			// The connection's first write (rueidis's HELLO) does not peek:
			// a TLS 1.3 server's session tickets may be waiting already,
			// which the first read consumes.
			c.sent.Store(true)
			c.readPeek = func(fd uintptr) { c.readState = peekSocket(fd) }
			c.writePeek = func(fd uintptr) { c.writeState = peekSocket(fd) }
			return c
		}
		wrapper, ok := socket.(interface{ NetConn() net.Conn })
		if !ok {
			return conn
		}
		socket = wrapper.NetConn()
	}
}

func (c *directConn) Write(b []byte) (int, error) {
	if !c.sent.Load() && c.socket.Control(c.writePeek) == nil && c.writeState != socketEmpty {
		return 0, errPeerClosed
	}
	c.sent.Store(true)
	return c.Conn.Write(b)
}

func (c *directConn) Read(b []byte) (int, error) {
	if c.sent.Swap(false) && c.poll != nil && c.backoff.due() && c.poll.begin() {
		c.backoff.record(c.awaitReadable(c.poll.window))
		c.poll.end()
	}
	return c.Conn.Read(b)
}

// awaitReadable polls the socket until it has something to read, or
// reports an end, for up to window; it reports whether the wait ended
// before that time.
func (c *directConn) awaitReadable(window time.Duration) bool {
	start := time.Now()
	for {
		if c.socket.Control(c.readPeek) != nil || c.readState != socketEmpty {
			return true
		}
		if time.Since(start) > window {
			return false
		}
		runtime.Gosched()
	}
}

// peekSocket looks at what socket fd holds without waiting and without
// consuming it. Control, through which it runs, does not take the
// connection's read lock, so a peek never waits for a reader parked in
// Read.
func peekSocket(fd uintptr) socketState {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == nil && n > 0:
		return socketReadable
	case err == nil:
		return socketClosed // a read of 0 bytes: the server sent its FIN
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		return socketEmpty
	}
	return socketClosed
}

// pollBackoff decides which reads poll. Each poll that misses its reply
// raises a level, each one in time lowers it, between 0 and 10; after a
// poll at level n, the next 2ⁿ-1 reads do not poll. A connection whose
// replies keep coming in time polls every read; one whose replies keep
// missing polls one read in 1024, and only a run of polls in time (one per
// level) brings it back: a lone quick reply no longer does.
type pollBackoff struct {
	level int // misses less polls in time, within [0, 10]
	skip  int // reads left before the next poll
}

func (p *pollBackoff) due() bool {
	if p.skip > 0 {
		p.skip--
		return false
	}
	return true
}

func (p *pollBackoff) record(inTime bool) {
	if inTime {
		p.level = max(p.level-1, 0)
	} else {
		p.level = min(p.level+1, 10)
	}
	p.skip = 1<<p.level - 1
}
