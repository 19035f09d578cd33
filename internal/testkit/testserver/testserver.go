// Package testserver starts throwaway redis-server (or valkey-server)
// processes from PATH: a standalone server, a cluster, or a master with
// replicas under Sentinels, on free loopback ports, in a temporary
// directory, with persistence off. TYPECACHE_SERVER picks the binary
// (valkey-server, or a path). It is the part that package typecachetest
// (for users' tests) and internal/redistest (for typecache's own) share.
package testserver

import (
	"os"
	"slices"
	"sync"

	"github.com/redis/rueidis"
)

// Options says what Start starts.
type Options struct {
	// Cluster starts a cluster instead of one standalone server.
	Cluster bool
	// Masters is the number of masters of a cluster; 0 means 3.
	Masters int
	// Replicas is the number of replicas of each master of a cluster, or
	// of the master of a Sentinel deployment.
	Replicas int
	// Sentinels, when above 0, starts a master, its Replicas and that many
	// Sentinels (redis-server --sentinel) that monitor it under the name
	// SentinelMaster, instead of one standalone server.
	Sentinels int
	// Args are further config directives for every node but the
	// Sentinels, such as "--enable-debug-command", "yes".
	Args []string
}

// Server is a running deployment: one standalone node, the nodes of a
// cluster, or a master and its replicas under Sentinels.
type Server struct {
	// Cluster reports whether the nodes form a cluster.
	Cluster bool
	// Nodes are the processes, masters first, then replicas (replica i
	// replicates master i % Masters), in the roles they started with.
	Nodes []*Node
	// Masters is how many of Nodes started as masters.
	Masters int
	// Sentinels are the Sentinel processes of a Sentinel deployment.
	Sentinels []*Node

	dir      string
	stopOnce sync.Once
}

// Start starts a deployment. Stop it when done.
func Start(opts Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "typecache-redis-")
	if err != nil {
		return nil, err
	}
	s := &Server{Cluster: opts.Cluster, dir: dir}
	if opts.Cluster {
		if opts.Masters <= 0 {
			opts.Masters = 3
		}
		s.Nodes, err = startCluster(dir, opts)
		s.Masters = opts.Masters
	} else if opts.Sentinels > 0 {
		s.Nodes, s.Sentinels, err = startSentinel(dir, opts)
		s.Masters = 1
	} else {
		var n *Node
		n, err = startNode(dir, "", opts.Args...)
		s.Nodes, s.Masters = []*Node{n}, 1
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// addrs returns the nodes' addresses.
func addrs(nodes []*Node) []string {
	a := make([]string, len(nodes))
	for i, n := range nodes {
		a[i] = n.Addr
	}
	return a
}

// ClientOption returns rueidis options that reach the deployment: its
// masters, seeds from which a cluster client finds the rest, or its
// Sentinels, which name the master.
func (s *Server) ClientOption() rueidis.ClientOption {
	if len(s.Sentinels) > 0 {
		return rueidis.ClientOption{InitAddress: addrs(s.Sentinels), Sentinel: rueidis.SentinelOption{MasterSet: SentinelMaster}}
	}
	return rueidis.ClientOption{InitAddress: addrs(s.Nodes[:s.Masters]), ForceSingleClient: !s.Cluster}
}

// Stop stops every process, the Sentinels first (so that they start no
// failover), and removes the directory. Calls after the first do nothing.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		for _, n := range slices.Concat(s.Sentinels, s.Nodes) {
			n.Stop()
		}
		os.RemoveAll(s.dir)
	})
}
