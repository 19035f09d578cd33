package redistest

import (
	"context"
	"strings"
	"testing"
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
