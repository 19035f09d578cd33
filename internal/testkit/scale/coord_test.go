package scale_test

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// probeKeys is how many keys the staleness probes cycle through (so that
// they land on every master).
const probeKeys = 16

// coordinator is the parent's end of the line protocol with the children
// (see fleetProcess.serveCoordinator): a Unix socket each child dials
// before it reports ready.
type coordinator struct {
	ln      net.Listener
	conns   []net.Conn // by child index
	msgs    chan message
	readers sync.WaitGroup
	closed  sync.Once
	done    int       // children that sent "done"
	early   []message // arrived before await asked for them
}

// message is one line from a child.
type message struct {
	from int
	verb string
	key  string
	at   int64 // unix ns, or -1
}

// listen opens the coordinator's socket in dir.
func listen(t *testing.T, dir string) *coordinator {
	ln, err := net.Listen("unix", filepath.Join(dir, "coord.sock"))
	if err != nil {
		t.Fatal(err)
	}
	return &coordinator{ln: ln, msgs: make(chan message, 1024)}
}

// addr is the socket's path, for the children.
func (c *coordinator) addr() string { return c.ln.Addr().String() }

// accept takes the n children's connections, which they made before they
// reported ready, and starts reading each.
func (c *coordinator) accept(t *testing.T, n int) {
	c.conns = make([]net.Conn, n)
	for range n {
		conn, err := c.ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(conn)
		var i int
		if !lines.Scan() {
			t.Fatalf("scale: a child closed the coordinator link: %v", lines.Err())
		}
		if _, err := fmt.Sscanf(lines.Text(), "hello %d", &i); err != nil || i < 0 || i >= n || c.conns[i] != nil {
			t.Fatalf("scale: bad greeting %q", lines.Text())
		}
		c.conns[i] = conn
		c.readers.Go(func() {
			for lines.Scan() {
				f := strings.Fields(lines.Text())
				m := message{from: i, verb: f[0]}
				if len(f) > 1 {
					m.key = f[1]
				}
				if len(f) > 2 {
					m.at, _ = strconv.ParseInt(f[2], 10, 64)
				}
				c.msgs <- m
			}
		})
	}
}

// close closes every link (children then end) and the socket. Calls
// after the first do nothing.
func (c *coordinator) close() {
	c.closed.Do(func() {
		for _, conn := range c.conns {
			if conn != nil {
				conn.Close()
			}
		}
		c.ln.Close()
		c.readers.Wait()
	})
}

func (c *coordinator) send(t *testing.T, to int, format string, args ...any) {
	if _, err := fmt.Fprintf(c.conns[to], format+"\n", args...); err != nil {
		t.Fatalf("scale: to child %d: %v", to, err)
	}
}

// await collects the messages verb about key from every child in from,
// counting "done"s and keeping other messages for a later await, and
// returns them by child.
func (c *coordinator) await(t *testing.T, verb, key string, from []int) map[int]message {
	got := make(map[int]message, len(from))
	take := func(m message) bool {
		switch {
		case m.verb == "done":
			c.done++
		case m.verb == verb && m.key == key:
			got[m.from] = m
		default:
			return false
		}
		return true
	}
	c.early = slices.DeleteFunc(c.early, take)
	timeout := time.NewTimer(2 * probeTimeout)
	defer timeout.Stop()
	for len(got) < len(from) {
		select {
		case m := <-c.msgs:
			if !take(m) {
				c.early = append(c.early, m)
			}
		case <-timeout.C:
			t.Fatalf("scale: %d of %d children sent %s %s in time", len(got), len(from), verb, key)
		}
	}
	return got
}

// awaitDone waits until every child has sent "done".
func (c *coordinator) awaitDone(t *testing.T, deadline time.Duration) {
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	for c.done < len(c.conns) {
		select {
		case m := <-c.msgs:
			if m.verb != "done" {
				t.Fatalf("scale: unexpected %q from child %d at the end", m.verb, m.from)
			}
			c.done++
		case <-timeout.C:
			t.Fatalf("scale: %d of %d children done in time", c.done, len(c.conns))
		}
	}
}

// probeResult is one staleness probe: for each process but the writer,
// how long after the write returned it stopped serving the old value
// (0 when it already had), or lost (it did not within probeTimeout).
type probeResult struct {
	stale []time.Duration
	lost  int
}

// probe runs staleness probe j: child j % n writes version v of a probe
// key that every other child reads from its local tier, once all of them
// serve version v-1.
func (c *coordinator) probe(t *testing.T, j int) probeResult {
	n := len(c.conns)
	key, version, writer := "p"+strconv.Itoa(j%probeKeys), j/probeKeys+1, j%n
	var others []int
	for i := range n {
		if i != writer {
			others = append(others, i)
		}
	}
	for _, i := range others {
		c.send(t, i, "arm %s %d", key, version)
	}
	c.await(t, "armed", key, others)
	c.send(t, writer, "write %s %d", key, version)
	// Other processes may see the write before its writer reports it.
	wrote := c.await(t, "wrote", key, []int{writer})[writer].at
	seen := c.await(t, "seen", key, others)
	if len(c.early) > 0 {
		t.Fatalf("scale: unexpected %q from child %d in probe %d", c.early[0].verb, c.early[0].from, j)
	}
	var r probeResult
	if wrote < 0 {
		t.Errorf("scale: probe write of %s failed", key)
		return r
	}
	for _, m := range seen {
		if m.at < 0 {
			r.lost++
			continue
		}
		r.stale = append(r.stale, max(0, time.Duration(m.at-wrote)))
	}
	return r
}
