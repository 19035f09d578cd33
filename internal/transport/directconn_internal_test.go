//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestPollBackoff: a connection whose polls keep missing polls ever more
// rarely, and only as many polls in time as it missed bring it back.
func TestPollBackoff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history []bool // results of the polls made, in order
		skipped int    // reads that do not poll before the next one does
	}{
		{"no poll yet", nil, 0},
		{"polls in time", []bool{true, true, true}, 0},
		{"one late poll", []bool{false}, 1},
		{"three late polls", []bool{false, false, false}, 7},
		{"late polls are capped", []bool{false, false, false, false, false, false, false, false, false, false, false, false}, 1023},
		{"a poll in time lowers one level", []bool{false, false, false, true}, 3},
		{"as many in time as late bring it back", []bool{false, false, true, true}, 0},
		{"mostly late stays rare", []bool{false, false, true, false, false, true, false}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p pollBackoff
			for _, inTime := range tc.history {
				for !p.due() {
				}
				p.record(inTime)
			}
			skipped := 0
			for !p.due() {
				skipped++
			}
			if skipped != tc.skipped {
				t.Errorf("%d reads skip polling, want %d", skipped, tc.skipped)
			}
		})
	}
}

// TestReplyPollAdaptive: a read polls only while the calls awaiting
// replies are no more than the processors left for them (GOMAXPROCS less
// one), and no more reads poll at once than that; a call whose wait ends
// frees its place. A poll that is off never polls.
func TestReplyPollAdaptive(t *testing.T) {
	if off := newReplyPoll(0); off.begin() {
		t.Fatal("a poll with a zero window polls")
	}
	var off *replyPoll
	off.callSent() // a nil poll counts nothing, and does not panic
	off.replied()
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			p := newReplyPoll(50 * time.Microsecond)
			for i := range procs - 1 {
				p.callSent()
				if !p.begin() {
					t.Fatalf("poll %d of %d refused", i+1, procs-1)
				}
			}
			p.callSent()
			if p.begin() {
				t.Fatalf("a poll began while %d calls awaited replies on %d processors", procs, procs)
			}
			if procs == 1 {
				return
			}
			p.replied() // one call fewer waits: the processors suffice again
			p.end()
			if !p.begin() {
				t.Fatal("a poll refused after a call's wait ended")
			}
			// The waiting calls alone keep a poll out, whoever polls.
			for range procs - 1 {
				p.end()
			}
			for range procs {
				p.callSent()
			}
			if p.begin() {
				t.Fatalf("a poll began with no poller but %d calls waiting on %d processors", int(p.waiting.Load()), procs)
			}
			if got := p.polls.Load(); got != uint64(procs) {
				t.Fatalf("%d polls counted, want %d", got, procs)
			}
		})
	}
}

// tcpPair returns the two ends of a loopback TCP connection, closed when
// the test ends.
func tcpPair(t *testing.T) (local, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if local, err = net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	if peer, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return local, peer
}

// TestDirectConnIdleCheck: the first write of a call on a connection where
// no reply is due sends nothing when the server closed the connection or
// left bytes on it (a parting error, a TLS close_notify), and fails with
// errPeerClosed; a later write of the same call is written whatever waits,
// since the call's first commands may have reached the server.
func TestDirectConnIdleCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		midCall  bool                      // a write of the call went first
		peerDoes func(peer net.Conn) error // while the connection is idle
		wantSent bool
	}{
		{"idle, nothing waiting", false, func(net.Conn) error { return nil }, true},
		{"idle, a parting error waiting", false, func(peer net.Conn) error { _, err := peer.Write([]byte("-ERR bye\r\n")); return err }, false},
		{"idle, closed by the server", false, func(peer net.Conn) error { return peer.(*net.TCPConn).CloseWrite() }, false},
		{"mid-call, a reply waiting", true, func(peer net.Conn) error { _, err := peer.Write([]byte("+OK\r\n")); return err }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, peer := tcpPair(t)
			c := directConnOf(raw, nil).(*directConn)

			// One call answered: the connection is idle.
			if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
				t.Fatal(err)
			}
			if _, err := peer.Write([]byte("+PONG\r\n")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, len("+PONG\r\n"))); err != nil {
				t.Fatal(err)
			}
			if tc.midCall {
				if _, err := c.Write([]byte("*1\r\n")); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.peerDoes(peer); err != nil {
				t.Fatal(err)
			}
			awaitPeerSide(t, c)

			n, err := c.Write([]byte("$4\r\nPING\r\n"))
			if sent := err == nil && n > 0; sent != tc.wantSent {
				t.Fatalf("Write = %d, %v; want sent = %v", n, err, tc.wantSent)
			}
			if !tc.wantSent && !errors.Is(err, errPeerClosed) {
				t.Fatalf("Write: %v, want errPeerClosed", err)
			}
			c.Close()
			want := "*1\r\n$4\r\nPING\r\n"
			if tc.midCall {
				want += "*1\r\n"
			}
			if tc.wantSent {
				want += "$4\r\nPING\r\n"
			}
			if got, _ := io.ReadAll(peer); string(got) != want {
				t.Fatalf("the server read %q, want %q", got, want)
			}
		})
	}
}

// awaitPeerSide waits until c's socket has something to read or is
// closed, or for a while when nothing comes (the case of a peer that sends
// nothing).
func awaitPeerSide(t *testing.T, c *directConn) {
	t.Helper()
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		if err := c.socket.Control(c.readPeek); err != nil {
			t.Fatal(err)
		}
		if c.readState != socketEmpty {
			return
		}
		runtime.Gosched()
	}
}
