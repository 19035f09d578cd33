// Package testserver starts throwaway redis-server (or valkey-server)
// processes from PATH: a standalone server or a cluster, on free loopback
// ports, in a temporary directory, with persistence off. TYPECACHE_SERVER
// picks the binary (valkey-server, or a path). It is the part
// that package typecachetest (for users' tests) and internal/redistest (for
// typecache's own) share.
package testserver

import (
	"os"
	"sync"
)

// Options says what Start starts.
type Options struct {
	// Cluster starts a cluster instead of one standalone server.
	Cluster bool
	// Masters is the number of masters of a cluster; 0 means 3.
	Masters int
	// Replicas is the number of replicas of each master of a cluster.
	Replicas int
	// Args are further config directives for every node, such as
	// "--enable-debug-command", "yes".
	Args []string
}

// Server is a running deployment: one standalone node, or the nodes of a
// cluster.
type Server struct {
	// Cluster reports whether the nodes form a cluster.
	Cluster bool
	// Nodes are the processes, masters first, then replicas (replica i
	// replicates master i % Masters), in the roles they started with.
	Nodes []*Node
	// Masters is how many of Nodes started as masters.
	Masters int

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
	} else {
		var n *Node
		n, err = startNode(dir, opts.Args...)
		s.Nodes, s.Masters = []*Node{n}, 1
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// MasterAddrs returns the addresses of the nodes that started as masters:
// seeds for a client, which finds the rest itself.
func (s *Server) MasterAddrs() []string {
	addrs := make([]string, s.Masters)
	for i, n := range s.Nodes[:s.Masters] {
		addrs[i] = n.Addr
	}
	return addrs
}

// Stop stops every process and removes the directory. Calls after the
// first do nothing.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		for _, n := range s.Nodes {
			n.Stop()
		}
		os.RemoveAll(s.dir)
	})
}
