package testserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/keyspace"
)

// startCluster starts masters and replicas under dir, assigns the slots
// evenly, joins the nodes (opts.Masters must be set) and waits until every
// node reports cluster_state:ok.
func startCluster(dir string, opts Options) ([]*Node, error) {
	total := opts.Masters * (1 + opts.Replicas)
	nodes := make([]*Node, 0, total)
	fail := func(err error) ([]*Node, error) {
		for _, n := range nodes {
			n.Kill()
		}
		return nil, err
	}
	for i := range total {
		nodeDir := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return fail(err)
		}
		n, err := startNode(nodeDir, "", append([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000",
		}, opts.Args...)...)
		if err != nil {
			return fail(err)
		}
		nodes = append(nodes, n)
	}
	for i := range opts.Masters {
		first, last := i*keyspace.ClusterSlots/opts.Masters, (i+1)*keyspace.ClusterSlots/opts.Masters-1
		args := []string{"CLUSTER", "ADDSLOTS"}
		for slot := first; slot <= last; slot++ {
			args = append(args, strconv.Itoa(slot))
		}
		if _, err := nodes[i].Do(args...); err != nil {
			return fail(fmt.Errorf("CLUSTER ADDSLOTS on %s: %w", nodes[i].Addr, err))
		}
	}
	for _, n := range nodes[1:] {
		if _, err := nodes[0].Do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.Port)); err != nil {
			return fail(fmt.Errorf("CLUSTER MEET %s: %w", n.Addr, err))
		}
	}
	if err := waitFor(func() error { return allKnow(nodes, total) }); err != nil {
		return fail(err)
	}
	for i, replica := range nodes[opts.Masters:] {
		master := nodes[i%opts.Masters]
		id, err := master.Do("CLUSTER", "MYID")
		if err != nil {
			return fail(err)
		}
		if _, err := replica.Do("CLUSTER", "REPLICATE", id); err != nil {
			return fail(fmt.Errorf("CLUSTER REPLICATE on %s: %w", replica.Addr, err))
		}
	}
	if err := waitFor(func() error { return clusterReady(nodes, true) }); err != nil {
		return fail(err)
	}
	return nodes, nil
}

func allKnow(nodes []*Node, total int) error {
	for _, n := range nodes {
		info, err := n.Do("CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if field(info, "cluster_known_nodes") != strconv.Itoa(total) {
			return fmt.Errorf("%s knows %s of %d nodes", n.Addr, field(info, "cluster_known_nodes"), total)
		}
	}
	return nil
}

// clusterReady reports nil once every node reports cluster_state:ok with
// every slot served, every node knows which nodes are replicas (a master
// that still takes a replica for a master refuses it its vote in a
// failover), and, when linked is set, every replica is linked to its master.
func clusterReady(nodes []*Node, linked bool) error {
	for _, n := range nodes {
		info, err := n.Do("CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if field(info, "cluster_state") != "ok" || field(info, "cluster_slots_ok") != strconv.Itoa(keyspace.ClusterSlots) {
			return fmt.Errorf("%s: cluster_state:%s", n.Addr, field(info, "cluster_state"))
		}
	}
	replicas := 0
	for _, n := range nodes {
		info, err := n.Do("INFO", "replication")
		if err != nil {
			return err
		}
		if field(info, "role") == "slave" {
			replicas++
			if linked && field(info, "master_link_status") != "up" {
				return fmt.Errorf("replica %s not linked to its master yet", n.Addr)
			}
		}
	}
	for _, n := range nodes {
		view, err := n.Do("CLUSTER", "NODES")
		if err != nil {
			return err
		}
		seen := 0
		for line := range strings.Lines(view) {
			if fields := strings.Fields(line); len(fields) > 2 && slices.Contains(strings.Split(fields[2], ","), "slave") {
				seen++
			}
		}
		if seen != replicas {
			return fmt.Errorf("%s sees %d replicas of %d", n.Addr, seen, replicas)
		}
	}
	return nil
}

// field returns the value of name in INFO-style "name:value" lines.
func field(info, name string) string {
	for line := range strings.Lines(info) {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return value
		}
	}
	return ""
}

// waitFor polls check until it succeeds or 30 s pass; the cluster's gossip has
// no event to wait on.
func waitFor(check func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Failover runs CLUSTER FAILOVER on replica, a replica in a cluster (mode
// "FORCE" or "TAKEOVER", or "" for a coordinated failover), and waits until
// replica is a master, its old master one of its replicas, and every
// node reports cluster_state:ok.
func (s *Server) Failover(t testing.TB, replica *Node, mode string) {
	t.Helper()
	master, err := s.masterOf(replica)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"CLUSTER", "FAILOVER"}
	if mode != "" {
		args = append(args, mode)
	}
	if _, err := replica.Do(args...); err != nil {
		t.Fatalf("%s on %s: %v", strings.Join(args, " "), replica.Addr, err)
	}
	s.waitAgreed(t, func() error {
		if info, err := replica.Do("INFO", "replication"); err != nil || field(info, "role") != "master" {
			return fmt.Errorf("%s not promoted yet (%v)", replica.Addr, err)
		}
		if info, err := master.Do("INFO", "replication"); err != nil || field(info, "role") != "slave" {
			return fmt.Errorf("old master %s not a replica yet (%v)", master.Addr, err)
		}
		return nil
	})
}

// masterOf returns the node replica replicates.
func (s *Server) masterOf(replica *Node) (*Node, error) {
	info, err := replica.Do("INFO", "replication")
	if err != nil {
		return nil, err
	}
	addr := field(info, "master_host") + ":" + field(info, "master_port")
	for _, n := range s.Nodes {
		if n.Addr == addr {
			return n, nil
		}
	}
	return nil, fmt.Errorf("%s is not a replica of a node of this cluster (master %q)", replica.Addr, addr)
}

// MoveSlot hands the slot of key, which must hold no key, from the master
// that serves it to the master to, the way redis-cli --cluster reshard does
// (nothing to MIGRATE), and waits until every node sends key's commands to
// to and reports cluster_state:ok.
func (s *Server) MoveSlot(t testing.TB, key string, to *Node) {
	t.Helper()
	owner := func(n *Node) string { // the address n sends key's commands to
		if _, err := n.Do("EXISTS", key); err != nil {
			fields := strings.Fields(err.Error()) // MOVED slot host:port
			if len(fields) == 3 && fields[0] == "MOVED" {
				return fields[2]
			}
			return err.Error()
		}
		return n.Addr
	}
	var from *Node
	for _, n := range s.Nodes {
		if n.Addr == owner(to) {
			from = n
		}
	}
	if from == nil || from == to {
		t.Fatalf("MoveSlot: %s already serves %q, or no node does (%s)", to.Addr, key, owner(to))
	}
	slot, err := to.Do("CLUSTER", "KEYSLOT", key)
	if err != nil {
		t.Fatal(err)
	}
	fromID, err1 := from.Do("CLUSTER", "MYID")
	toID, err2 := to.Do("CLUSTER", "MYID")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		node *Node
		args []string
	}{
		{to, []string{"CLUSTER", "SETSLOT", slot, "IMPORTING", fromID}},
		{from, []string{"CLUSTER", "SETSLOT", slot, "MIGRATING", toID}},
		{to, []string{"CLUSTER", "SETSLOT", slot, "NODE", toID}},
		{from, []string{"CLUSTER", "SETSLOT", slot, "NODE", toID}},
	} {
		if _, err := step.node.Do(step.args...); err != nil {
			t.Fatalf("%s on %s: %v", strings.Join(step.args, " "), step.node.Addr, err)
		}
	}
	s.waitAgreed(t, func() error {
		for _, n := range s.Nodes {
			if got := owner(n); got != to.Addr {
				return fmt.Errorf("%s sends %q to %s, not %s yet", n.Addr, key, got, to.Addr)
			}
		}
		return nil
	})
}

// waitAgreed waits until done returns nil and every node reports
// cluster_state:ok, and fails t when that takes longer than the cluster's
// gossip should.
func (s *Server) waitAgreed(t testing.TB, done func() error) {
	t.Helper()
	err := waitFor(func() error {
		if err := done(); err != nil {
			return err
		}
		// Not waiting for the old master's link to its new master: it
		// resyncs after Redis's repl-diskless-sync-delay (5 s by default,
		// kept as in production), and until then it applies none of the
		// new master's writes.
		return clusterReady(s.Nodes, false)
	})
	if err != nil {
		t.Fatal(err)
	}
}
