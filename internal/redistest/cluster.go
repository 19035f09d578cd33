package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clusterSlots is the number of hash slots in a Redis cluster.
const clusterSlots = 16384

// ClusterOptions configures NewCluster.
type ClusterOptions struct {
	// Masters is the number of master nodes; 0 means 3.
	Masters int
	// Replicas is the number of replicas of each master (0 or more).
	Replicas int
}

// startCluster starts masters and replicas under dir, assigns the slots evenly,
// joins the nodes (opts.Masters must be set) and waits until every node reports cluster_state:ok.
func startCluster(dir string, opts ClusterOptions) ([]*Node, error) {
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
		n, err := startNode(nodeDir,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000",
		)
		if err != nil {
			return fail(err)
		}
		nodes = append(nodes, n)
	}
	for i := range opts.Masters {
		first, last := i*clusterSlots/opts.Masters, (i+1)*clusterSlots/opts.Masters-1
		args := []string{"CLUSTER", "ADDSLOTS"}
		for slot := first; slot <= last; slot++ {
			args = append(args, strconv.Itoa(slot))
		}
		if _, err := nodes[i].Do(args...); err != nil {
			return fail(fmt.Errorf("redistest: CLUSTER ADDSLOTS on %s: %w", nodes[i].Addr, err))
		}
	}
	for _, n := range nodes[1:] {
		if _, err := nodes[0].Do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.Port)); err != nil {
			return fail(fmt.Errorf("redistest: CLUSTER MEET %s: %w", n.Addr, err))
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
			return fail(fmt.Errorf("redistest: CLUSTER REPLICATE on %s: %w", replica.Addr, err))
		}
	}
	if err := waitFor(func() error { return clusterReady(nodes, opts.Masters) }); err != nil {
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
			return fmt.Errorf("redistest: %s knows %s of %d nodes", n.Addr, field(info, "cluster_known_nodes"), total)
		}
	}
	return nil
}

func clusterReady(nodes []*Node, masters int) error {
	for _, n := range nodes {
		info, err := n.Do("CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if field(info, "cluster_state") != "ok" || field(info, "cluster_slots_ok") != strconv.Itoa(clusterSlots) {
			return fmt.Errorf("redistest: %s: cluster_state:%s", n.Addr, field(info, "cluster_state"))
		}
	}
	for _, replica := range nodes[masters:] {
		info, err := replica.Do("INFO", "replication")
		if err != nil {
			return err
		}
		if field(info, "master_link_status") != "up" {
			return fmt.Errorf("redistest: replica %s not linked to its master yet", replica.Addr)
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
