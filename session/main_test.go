package session_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/redistest"
	"github.com/typecache/typecache/internal/testclock"
	"github.com/typecache/typecache/session"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// cart is the session data type the tests store.
type cart struct {
	Items []string `json:"items"`
	Admin bool     `json:"admin,omitempty"`
}

// newStore returns a store on srv under a key prefix unique to t.
func newStore(t testing.TB, srv *redistest.Server, opts session.Options[cart]) *session.Store[cart] {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = redistest.Prefix(t)
	}
	s, err := session.New(srv.Client(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newClockedStore is newStore with a test clock in place of Redis TIME.
func newClockedStore(t testing.TB, srv *redistest.Server, opts session.Options[cart]) (*session.Store[cart], *testclock.Clock) {
	s := newStore(t, srv, opts)
	c := testclock.New(time.Now().Truncate(time.Millisecond))
	session.SetClock(s, c.Now)
	return s, c
}

// commandCounts sums INFO commandstats "calls" over srv's masters, by
// command name. The servers are private to this test binary and its tests
// run one at a time, so a difference between two snapshots counts exactly
// the commands the test sent in between (commands run by scripts included).
func commandCounts(t *testing.T, srv *redistest.Server) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, node := range srv.Masters() {
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

func commandDelta(before, after map[string]int) map[string]int {
	delta := map[string]int{}
	for name, n := range after {
		if d := n - before[name]; d != 0 {
			delta[name] = d
		}
	}
	return delta
}

var background = context.Background()
