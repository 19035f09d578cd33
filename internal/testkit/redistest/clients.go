package redistest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
)

// KillClients kills, on every node of s, the connections whose CLIENT SETNAME
// is name (rueidis.ClientOption.ClientName), and fails the test when there is
// none. It simulates a network failure of one client.
func (s *Server) KillClients(t testing.TB, name string) {
	t.Helper()
	killed := 0
	for _, l := range s.clientList(t) {
		if !strings.Contains(l.line, " name="+name+" ") {
			continue
		}
		// RESP3 returns CLIENT LIST as a verbatim string: "txt:id=3 addr=...".
		_, id, _ := strings.Cut(strings.Fields(l.line)[0], "id=")
		if node := l.node; node.Do(context.Background(), node.B().Arbitrary("CLIENT", "KILL", "ID", id).Build()).Error() == nil {
			killed++
		}
	}
	if killed == 0 {
		t.Fatalf("redistest: no connection named %q", name)
	}
}

// clientLine is one line of CLIENT LIST, with a client of its node.
type clientLine struct {
	node rueidis.Client
	line string
}

// clientList returns the lines of CLIENT LIST on every node of s.
func (s *Server) clientList(t testing.TB) []clientLine {
	t.Helper()
	var lines []clientLine
	for _, node := range s.Raw(t).Nodes() {
		list, err := node.Do(context.Background(), node.B().ClientList().Build()).ToString()
		if err != nil {
			t.Fatalf("redistest: CLIENT LIST: %v", err)
		}
		for line := range strings.Lines(list) {
			lines = append(lines, clientLine{node, line})
		}
	}
	return lines
}

// AwaitRefused waits, after the masters of s were killed, until each of
// c's pipelined connections (c.Redis(): the tracking client) to them
// refuses, not merely breaks: a call on a connection that broke under it
// may have run, so tests of what a package does once Redis is known to be
// down start from here. It probes past c's breakers, so they stay closed.
// c's direct connections need no probe: each finds a closed peer by its
// peek before it writes, and dials instead.
func (s *Server) AwaitRefused(t testing.TB, c *typecache.Client) {
	t.Helper()
	nodes := c.Redis().Nodes()
	for _, master := range s.Masters() {
		node, ok := nodes[master.Addr]
		if !ok {
			continue // c never knew it: its first call dials
		}
		Eventually(t, 10*time.Second, func() error {
			err := node.Do(context.Background(), node.B().Ping().Build()).Error()
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return fmt.Errorf("PING %s: %v, want a refused connection", master.Addr, err)
			}
			return nil
		})
	}
}

// CheckLastRan fails t unless a connection to s last ran cmd (lower case,
// as CLIENT LIST's cmd field has it: "get", "zrange"), and every connection
// that did tracks keys when tracked is true and none does when it is
// false: for tests of the connection a call, named what, took.
func (s *Server) CheckLastRan(t testing.TB, what, cmd string, tracked bool) {
	t.Helper()
	ran := 0
	for _, l := range s.clientList(t) {
		if !strings.Contains(l.line, " cmd="+cmd+" ") {
			continue
		}
		ran++
		if tracks(l.line) != tracked {
			t.Errorf("%s (want a connection that tracks: %v) ran on %s", what, tracked, strings.TrimSpace(l.line))
		}
	}
	if ran == 0 {
		t.Errorf("%s: no connection's last command was %s", what, cmd)
	}
}

// tracks reports whether line, a line of CLIENT LIST, is a connection that
// tracks keys (its flags hold "t").
func tracks(line string) bool {
	for field := range strings.FieldsSeq(line) {
		if flags, ok := strings.CutPrefix(field, "flags="); ok {
			return strings.Contains(flags, "t")
		}
	}
	return false
}

// CommandCounts sums INFO commandstats "calls" over s's masters, by command
// name ("get", "evalsha"; the commands scripts run included). On a server
// private to one test, the difference between two snapshots (CommandDelta)
// counts exactly the commands the test sent in between, apart from a
// cluster client's topology watch (CLUSTER SLOTS).
func (s *Server) CommandCounts(t testing.TB) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, node := range s.Masters() {
		info, err := node.Do("INFO", "commandstats")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
			if !ok {
				continue
			}
			calls, _, _ := strings.Cut(rest, ",")
			n, err := strconv.Atoi(calls)
			if err != nil {
				t.Fatalf("commandstats line %q: %v", line, err)
			}
			counts[strings.TrimPrefix(name, "cmdstat_")] += n
		}
	}
	return counts
}

// CommandDelta returns how many more times each of the commands names ran
// in after than in before (snapshots of CommandCounts), leaving out those
// that did not run in between: a test names the commands it checks, since
// the snapshots' own INFO commands, and on a cluster the topology watch,
// run too.
func CommandDelta(before, after map[string]int, names ...string) map[string]int {
	delta := map[string]int{}
	for _, name := range names {
		if d := after[name] - before[name]; d != 0 {
			delta[name] = d
		}
	}
	return delta
}
