package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache"
)

// Ways a Redis node forgets the scripts its clients loaded, for
// LoseScripts: SCRIPT FLUSH, and a restart (what a failover to a fresh
// replica also does). On a cluster they hit one master only, so that a
// call touching several nodes meets NOSCRIPT on one of them.
const (
	ScriptFlush = "script-flush"
	Restart     = "restart"
)

// ScriptLosses lists the ways of LoseScripts, for table tests.
var ScriptLosses = []string{ScriptFlush, Restart}

// ScriptLossBudget bounds the first call after LoseScripts, in the tests
// that every package runs against it: about one extra round trip is
// expected, so the bound is loose (CPU contention, -race), yet far below a
// lease or a lock's validity that a call must not wait out.
const ScriptLossBudget = time.Second

// LoseScripts makes the first master of s forget its scripts, in the way
// how names (ScriptFlush or Restart), and returns once client's
// connections to it work again (after a restart they must reconnect).
func LoseScripts(t testing.TB, s *Server, client *typecache.Client, how string) {
	t.Helper()
	node := s.Masters()[0]
	switch how {
	case ScriptFlush:
		if _, err := node.Do("SCRIPT", "FLUSH"); err != nil {
			t.Fatal(err)
		}
		return
	case Restart:
		node.Stop()
		if err := node.Start(); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("LoseScripts: unknown way %q", how)
	}
	// A restarted cluster node refuses keys (CLUSTERDOWN) until it has
	// heard from the others.
	Eventually(t, 10*time.Second, func() error {
		for _, n := range s.Masters() {
			info, err := n.Do("CLUSTER", "INFO")
			if s.IsCluster() && (err != nil || !strings.Contains(info, "cluster_state:ok")) {
				return fmt.Errorf("node %d: cluster not ok: %v", n.Port, err)
			}
		}
		return nil
	})
	// The client's pipelined connections notice the restart at once (they
	// are always reading); wait until every node answers again through
	// the client.
	ctx := context.Background()
	r := client.Redis()
	Eventually(t, 10*time.Second, func() error {
		for _, n := range r.Nodes() {
			if err := n.Do(ctx, n.B().Ping().Build()).Error(); err != nil {
				return err
			}
		}
		return nil
	})
}

// A ScriptCall is one kind of call of a package, for RunScriptLoss: Call
// makes it on keys of its own for round (a round's keys are new to every
// earlier round) and returns its error.
type ScriptCall struct {
	Name string
	Call func(round int) error
}

// warmRounds is how many rounds of each call RunScriptLoss makes before a
// loss, so that their keys reach every master of a cluster and load the
// scripts there.
const warmRounds = 8

// RunScriptLoss tests a package's first calls after a node lost its
// scripts, on a private standalone server and a private cluster: for each
// way of LoseScripts and each call that setUp returns (on the client it is
// given), it makes every call a few times, makes the node forget its
// scripts, and checks that the call then succeeds within
// ScriptLossBudget.
func RunScriptLoss(t *testing.T, setUp func(t *testing.T, s *Server, client *typecache.Client) []ScriptCall) {
	t.Helper()
	RunPrivate(t, func(t *testing.T, s *Server) {
		client := s.Client(t)
		calls := setUp(t, s, client)
		round := 0
		for _, how := range ScriptLosses {
			for _, call := range calls {
				t.Run(how+"/"+call.Name, func(t *testing.T) {
					for _, warm := range calls {
						for range warmRounds {
							round++
							if err := warm.Call(round); err != nil {
								t.Fatalf("%s before the loss: %v", warm.Name, err)
							}
						}
					}
					LoseScripts(t, s, client, how)
					round++
					start := time.Now()
					if err := call.Call(round); err != nil {
						t.Fatalf("first %s after the loss: %v", call.Name, err)
					}
					if took := time.Since(start); took > ScriptLossBudget {
						t.Errorf("first %s after the loss took %v, want about one extra round trip", call.Name, took)
					}
				})
			}
		}
	})
}
