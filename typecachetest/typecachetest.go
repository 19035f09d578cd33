// Package typecachetest starts a throwaway Redis server for the tests of
// code that uses typecache, as net/http/httptest does for HTTP servers.
//
// [NewServer] runs redis-server (or valkey-server) from PATH on a free
// loopback port, with persistence off and its data in a temporary
// directory, and stops it when the test ends. The test then talks to a real
// server: RESP3 client tracking, Lua scripts and a cluster's slot routing
// behave as in production, which a mock or an in-process imitation cannot
// offer. Each server takes tens of milliseconds to start (a cluster a few
// seconds); tests that share one can use names or key prefixes of their own.
//
// The TYPECACHE_SERVER environment variable picks the server binary, by
// name on PATH or by path; unset, it is redis-server, or valkey-server when
// redis-server is missing. To run a suite on Valkey:
//
//	TYPECACHE_SERVER=valkey-server go test ./...
//
// typecache's own tests run on Redis 7.0 and Valkey 8.0.
//
// A machine without the server binary fails the test with the command that
// installs it; it is never skipped silently.
package typecachetest

import (
	"testing"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/testserver"
)

// Server is a redis-server, or a cluster of them, started for one test. It
// is safe for concurrent use by multiple goroutines.
type Server struct {
	proc *testserver.Server
}

// An Option changes the server NewServer starts.
type Option struct {
	apply func(*testserver.Options)
}

// Cluster makes NewServer start a Redis cluster of three masters (no
// replicas) instead of one standalone server, so that code meets slot
// routing and the one-slot rule of scripts and transactions as in a
// clustered production deployment. It takes a few seconds to form.
func Cluster() Option {
	return Option{func(o *testserver.Options) { o.Cluster, o.Masters = true, 3 }}
}

// Sentinel makes NewServer start a master with one replica under three
// Sentinels (redis-server --sentinel) instead of one standalone server;
// ClientOption and Client reach the master through the Sentinels
// (rueidis's ClientOption.Sentinel), so that code meets a deployment whose
// master can change. It takes a few seconds to form.
func Sentinel() Option {
	return Option{func(o *testserver.Options) { o.Replicas, o.Sentinels = 1, 3 }}
}

// NewServer starts a server for t and stops it when t and its subtests end.
// It runs the binary TYPECACHE_SERVER names (see the package
// overview), and fails t, with the command that installs it, when that
// binary is missing.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o testserver.Options
	for _, opt := range opts {
		opt.apply(&o)
	}
	proc, err := testserver.Start(o)
	if err != nil {
		t.Fatalf("typecachetest: %v", err)
	}
	s := &Server{proc: proc}
	t.Cleanup(s.Close)
	return s
}

// Addr returns the server's host:port; for a cluster, that of one of its
// masters, from which a client discovers the others; for a Sentinel
// deployment, that of one of its Sentinels.
func (s *Server) Addr() string {
	if len(s.proc.Sentinels) > 0 {
		return s.proc.Sentinels[0].Addr
	}
	return s.proc.Nodes[0].Addr
}

// ClientOption returns rueidis options that reach the server, for a client
// with settings of its own:
//
//	opt := srv.ClientOption()
//	opt.ClientName = "worker"
//	client, err := typecache.NewClient(opt)
func (s *Server) ClientOption() rueidis.ClientOption { return s.proc.ClientOption() }

// Client returns a typecache client connected to the server, closed when t
// ends. Each call returns a new client: two clients act like two processes
// of an application, each with its own connections and invalidations.
func (s *Server) Client(t testing.TB) *typecache.Client {
	t.Helper()
	c, err := typecache.NewClient(s.ClientOption())
	if err != nil {
		t.Fatalf("typecachetest: connect to %s: %v", s.Addr(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// Close stops the server now, for a test of what the code under test does
// when Redis goes away. NewServer's cleanup calls it too; calls after the
// first do nothing.
func (s *Server) Close() { s.proc.Stop() }
