package redistest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestRunCoversBothTopologies(t *testing.T) {
	var seen []bool
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		seen = append(seen, srv.IsCluster())
		raw := srv.Raw(t)
		key := redistest.Prefix(t) + "k"
		ctx := context.Background()
		if err := raw.Do(ctx, raw.B().Set().Key(key).Value("v").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		got, err := raw.Do(ctx, raw.B().Get().Key(key).Build()).ToString()
		if err != nil || got != "v" {
			t.Fatalf("GET = %q, %v; want v", got, err)
		}
	})
	if len(seen) != 2 || seen[0] || !seen[1] {
		t.Fatalf("topologies run = %v, want [standalone cluster]", seen)
	}
}

// TestServerIsTheChosenBinary checks that the servers run the binary
// TYPECACHE_SERVER names (make test runs the suite once with redis-server,
// once with valkey-server), by the name the running server gives itself:
// Valkey's INFO says server_name:valkey, Redis 7's has no server_name.
func TestServerIsTheChosenBinary(t *testing.T) {
	node := redistest.NewStandalone(t).Nodes()[0]
	binary := filepath.Base(node.Binary())
	if chosen := os.Getenv("TYPECACHE_SERVER"); chosen != "" && binary != filepath.Base(chosen) {
		t.Fatalf("TYPECACHE_SERVER=%s, but the server runs %s", chosen, node.Binary())
	}
	info, err := node.Do("INFO", "server")
	if err != nil {
		t.Fatal(err)
	}
	if valkey := strings.Contains(info, "server_name:valkey"); valkey != (binary == "valkey-server") {
		t.Fatalf("%s: server_name:valkey in INFO is %v; INFO server:\n%s", node.Binary(), valkey, info)
	}
}

func TestNodeRestartsEmptyOnSamePort(t *testing.T) {
	srv := redistest.NewStandalone(t)
	node := srv.Nodes()[0]
	if _, err := node.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	port := node.Port
	node.Stop()
	if _, err := node.Do("PING"); err == nil {
		t.Fatal("PING succeeded on a stopped node")
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	if node.Port != port {
		t.Fatalf("port changed from %d to %d", port, node.Port)
	}
	if got, err := node.Do("EXISTS", "k"); err != nil || got != "0" {
		t.Fatalf("EXISTS k after restart = %q, %v; want 0 (persistence is off)", got, err)
	}
}

func TestClusterWithReplicas(t *testing.T) {
	srv := redistest.NewCluster(t, redistest.ClusterOptions{Replicas: 1})
	if got := len(srv.Nodes()); got != 6 {
		t.Fatalf("nodes = %d, want 6", got)
	}
	for _, master := range srv.Masters() {
		info, err := master.Do("INFO", "replication")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(info, "connected_slaves:1") {
			t.Fatalf("master %s: want one replica, INFO says:\n%s", master.Addr, info)
		}
	}
}

func TestPrefixIsUniquePerCall(t *testing.T) {
	a, b := redistest.Prefix(t), redistest.Prefix(t)
	if a == b || strings.ContainsAny(a, "{} ") {
		t.Fatalf("Prefix gave %q and %q: want distinct prefixes without braces or spaces", a, b)
	}
}

func TestSentinelFailover(t *testing.T) {
	srv := redistest.NewSentinel(t)
	if got := len(srv.Nodes()); got != 2 {
		t.Fatalf("nodes = %d, want a master and a replica", got)
	}
	raw := srv.Raw(t)
	ctx := context.Background()
	if err := raw.Do(ctx, raw.B().Set().Key("k").Value("v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	master := srv.SentinelFailover(t)
	t.Logf("SENTINEL FAILOVER took %v", time.Since(start))
	if master != srv.Nodes()[1] {
		t.Fatalf("new master %s, want the replica %s", master.Addr, srv.Nodes()[1].Addr)
	}
	// The client follows the failover: its writes reach the new master.
	redistest.Eventually(t, 10*time.Second, func() error {
		if err := raw.Do(ctx, raw.B().Set().Key("k").Value("after").Build()).Error(); err != nil {
			return err
		}
		got, err := master.Do("GET", "k")
		if err != nil || got != "after" {
			return fmt.Errorf("GET k on the new master = %q, %v; want after", got, err)
		}
		return nil
	})
}
