package redistest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/typecache/typecache"
)

// KillClients kills, on every node of s, the connections whose CLIENT SETNAME
// is name (rueidis.ClientOption.ClientName), and fails the test when there is
// none. It simulates a network failure of one client.
func (s *Server) KillClients(t testing.TB, name string) {
	t.Helper()
	raw := s.Raw(t)
	ctx := context.Background()
	killed := 0
	for _, node := range raw.Nodes() {
		list, err := node.Do(ctx, node.B().ClientList().Build()).ToString()
		if err != nil {
			t.Fatalf("redistest: CLIENT LIST: %v", err)
		}
		for line := range strings.Lines(list) {
			if !strings.Contains(line, " name="+name+" ") {
				continue
			}
			// RESP3 returns CLIENT LIST as a verbatim string: "txt:id=3 addr=...".
			_, id, _ := strings.Cut(strings.Fields(line)[0], "id=")
			if node.Do(ctx, node.B().Arbitrary("CLIENT", "KILL", "ID", id).Build()).Error() == nil {
				killed++
			}
		}
	}
	if killed == 0 {
		t.Fatalf("redistest: no connection named %q", name)
	}
}

// AwaitRefused waits, after the masters of s were killed, until every
// connection c holds to one of them refuses, not merely breaks: a call on a
// connection that broke under it may have run, so tests of what a package
// does once Redis is known to be down start from here. It probes past c's
// breakers, so they stay closed.
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
