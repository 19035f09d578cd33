package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// SentinelMaster is the name under which the Sentinels of a Sentinel
// deployment monitor its master.
const SentinelMaster = "typecache"

// startSentinel starts a master and opts.Replicas replicas of it under dir,
// then opts.Sentinels Sentinels that monitor it with a majority quorum, and
// waits until every replica is linked and every Sentinel knows every replica
// and every other Sentinel.
func startSentinel(dir string, opts Options) (nodes, sentinels []*Node, err error) {
	fail := func(err error) ([]*Node, []*Node, error) {
		for _, n := range slices.Concat(sentinels, nodes) {
			n.Kill()
		}
		return nil, nil, err
	}
	for i := range 1 + opts.Replicas {
		nodeDir := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return fail(err)
		}
		args := opts.Args
		if i > 0 {
			args = append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(nodes[0].Port)}, args...)
		}
		n, err := startNode(nodeDir, "", args...)
		if err != nil {
			return fail(err)
		}
		nodes = append(nodes, n)
	}
	quorum := opts.Sentinels/2 + 1
	for i := range opts.Sentinels {
		sentinelDir := filepath.Join(dir, "sentinel"+strconv.Itoa(i))
		if err := os.MkdirAll(sentinelDir, 0o755); err != nil {
			return fail(err)
		}
		// A failover a test did not ask for would move the master under
		// it: the Sentinels call a master down only after 5 s of silence.
		conf := filepath.Join(sentinelDir, "sentinel.conf")
		config := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d %[3]d\n"+
			"sentinel down-after-milliseconds %[1]s 5000\n"+
			"sentinel failover-timeout %[1]s 10000\n", SentinelMaster, nodes[0].Port, quorum)
		if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
			return fail(err)
		}
		n, err := startNode(sentinelDir, conf, "--sentinel")
		if err != nil {
			return fail(err)
		}
		sentinels = append(sentinels, n)
	}
	err = waitFor(func() error { return sentinelsAgree(nodes[0], nodes[1:], sentinels, true) })
	if err != nil {
		return fail(err)
	}
	return nodes, sentinels, nil
}

// sentinelsAgree reports nil once every replica replicates master (and,
// when linked is set, is linked to it), and every Sentinel names master as
// SentinelMaster's, reports it up, and knows every replica and every other
// Sentinel.
func sentinelsAgree(master *Node, replicas, sentinels []*Node, linked bool) error {
	for _, r := range replicas {
		info, err := r.Do("INFO", "replication")
		if err != nil {
			return err
		}
		if field(info, "role") != "slave" || field(info, "master_port") != strconv.Itoa(master.Port) || linked && field(info, "master_link_status") != "up" {
			return fmt.Errorf("replica %s not linked to %s yet", r.Addr, master.Addr)
		}
	}
	want := fmt.Sprintf("name=%s,status=ok,address=%s,slaves=%d,sentinels=%d", SentinelMaster, master.Addr, len(replicas), len(sentinels))
	for _, s := range sentinels {
		info, err := s.Do("INFO", "sentinel")
		if err != nil {
			return err
		}
		if got := field(info, "master0"); got != want {
			return fmt.Errorf("sentinel %s reports %q, want %q", s.Addr, got, want)
		}
	}
	return nil
}

// SentinelFailover runs SENTINEL FAILOVER on a Sentinel of the deployment,
// which promotes a replica without waiting for it to catch up, and waits
// until every Sentinel names the new master and every other node, the old
// master too, replicates it. It returns the new master. The old master may
// resync seconds later (repl-diskless-sync-delay).
func (s *Server) SentinelFailover(t testing.TB) *Node {
	t.Helper()
	old, err := s.sentinelMaster()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sentinels[0].Do("SENTINEL", "FAILOVER", SentinelMaster); err != nil {
		t.Fatalf("SENTINEL FAILOVER on %s: %v", s.Sentinels[0].Addr, err)
	}
	var master *Node
	err = waitFor(func() error {
		if master, err = s.sentinelMaster(); err != nil {
			return err
		}
		if master == old {
			return fmt.Errorf("sentinel %s still names %s", s.Sentinels[0].Addr, old.Addr)
		}
		replicas := slices.DeleteFunc(slices.Clone(s.Nodes), func(n *Node) bool { return n == master })
		return sentinelsAgree(master, replicas, s.Sentinels, false)
	})
	if err != nil {
		t.Fatalf("after SENTINEL FAILOVER: %v", err)
	}
	return master
}

// sentinelMaster returns the node the first Sentinel names as the master.
func (s *Server) sentinelMaster() (*Node, error) {
	info, err := s.Sentinels[0].Do("INFO", "sentinel")
	if err != nil {
		return nil, err
	}
	for _, n := range s.Nodes {
		if strings.Contains(field(info, "master0"), ",address="+n.Addr+",") {
			return n, nil
		}
	}
	return nil, fmt.Errorf("sentinel %s names no node of the deployment: %s", s.Sentinels[0].Addr, field(info, "master0"))
}
