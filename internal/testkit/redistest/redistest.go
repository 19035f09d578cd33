package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/goleak"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/testserver"
)

// Server is a Redis deployment under test: one standalone server, a cluster,
// or a master and its replicas under Sentinels.
type Server struct {
	cluster bool
	proc    *testserver.Server // nil for an external server
	option  rueidis.ClientOption
}

// Node is one redis-server process.
type Node = testserver.Node

// InstallHint is how to install a server binary.
const InstallHint = testserver.InstallHint

// ClusterOptions configures NewCluster.
type ClusterOptions struct {
	// Masters is the number of master nodes; 0 means 3.
	Masters int
	// Replicas is the number of replicas of each master (0 or more).
	Replicas int
	// Args are further config directives for every node, such as
	// "--cluster-preferred-endpoint-type", "unknown-endpoint".
	Args []string
}

// IsCluster reports whether s is a Redis cluster.
func (s *Server) IsCluster() bool { return s.cluster }

// Nodes returns the server processes, masters first, or nil when s is an
// external server given by REDIS_URL or REDIS_CLUSTER_URL.
func (s *Server) Nodes() []*Node {
	if s.proc == nil {
		return nil
	}
	return s.proc.Nodes
}

// Masters returns the nodes of a cluster that started as masters, or the
// one standalone node, or the master a Sentinel deployment started with.
func (s *Server) Masters() []*Node {
	if s.proc == nil {
		return nil
	}
	return s.proc.Nodes[:s.proc.Masters]
}

// Failover runs CLUSTER FAILOVER on replica, a replica in s (mode "FORCE" or
// "TAKEOVER", or "" for a coordinated failover), and waits until replica is
// a master, its old master one of its replicas, and every node reports
// cluster_state:ok. The old master may resync seconds later (Redis's
// repl-diskless-sync-delay, kept at its default as in production).
func (s *Server) Failover(t testing.TB, replica *Node, mode string) {
	t.Helper()
	s.proc.Failover(t, replica, mode)
}

// SentinelFailover runs SENTINEL FAILOVER on a Sentinel deployment and
// waits until every Sentinel names the new master, which it returns, and
// every other node replicates it.
func (s *Server) SentinelFailover(t testing.TB) *Node {
	t.Helper()
	return s.proc.SentinelFailover(t)
}

// MoveSlot hands the slot of key, which must hold no key, from the master
// that serves it to the master to, the way redis-cli --cluster reshard does,
// and waits until every node sends key's commands to to and reports
// cluster_state:ok.
func (s *Server) MoveSlot(t testing.TB, key string, to *Node) {
	t.Helper()
	s.proc.MoveSlot(t, key, to)
}

// Option returns client options that reach s. Each call returns a fresh copy.
func (s *Server) Option() rueidis.ClientOption {
	opt := s.option
	opt.InitAddress = append([]string(nil), s.option.InitAddress...)
	return opt
}

// Client returns a typecache client connected to s with options, closed
// when the test ends.
func (s *Server) Client(t testing.TB, options ...typecache.Option) *typecache.Client {
	t.Helper()
	return connect(t, s.Option(), options)
}

// SteadyOption is Option with one address of a cluster, for clients whose
// first connections flush nothing. Given several addresses, rueidis dials
// each at once and closes the dials that lose the race with its first
// topology refresh; each close flushes the client's tracking (a cache then
// forgets its generation and reads it again, local tiers empty), which
// breaks the exact command and round-trip counts of the tests that use
// this. Not for a test that stops the first master before it connects.
func (s *Server) SteadyOption() rueidis.ClientOption {
	opt := s.Option()
	if s.cluster {
		opt.InitAddress = opt.InitAddress[:1]
	}
	return opt
}

// SteadyClient is Client connected with SteadyOption.
func (s *Server) SteadyClient(t testing.TB, options ...typecache.Option) *typecache.Client {
	t.Helper()
	return connect(t, s.SteadyOption(), options)
}

// connect returns a typecache client with opt and options, closed when t
// ends.
func connect(t testing.TB, opt rueidis.ClientOption, options []typecache.Option) *typecache.Client {
	t.Helper()
	c, err := typecache.NewClient(opt, options...)
	if err != nil {
		t.Fatalf("redistest: connect: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Raw returns a plain rueidis client with client-side caching off, closed when
// the test ends: the "other process" that writes behind a cache's back.
func (s *Server) Raw(t testing.TB) rueidis.Client {
	t.Helper()
	opt := s.Option()
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("redistest: connect: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// FlushAll empties every master of s.
func (s *Server) FlushAll(t testing.TB) {
	t.Helper()
	raw := s.Raw(t)
	for _, node := range raw.Nodes() {
		if err := node.Do(context.Background(), node.B().Flushall().Build()).Error(); err != nil && !strings.Contains(err.Error(), "READONLY") {
			t.Fatalf("redistest: FLUSHALL: %v", err)
		}
	}
}

// Stop stops every process of s and removes its directory.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Stop()
	}
}

func newLocalServer(opts testserver.Options) (*Server, error) {
	opts.Args = append([]string{"--enable-debug-command", "yes"}, opts.Args...) // DEBUG SLEEP in the fault tests
	proc, err := testserver.Start(opts)
	if errors.Is(err, testserver.ErrNoServer) {
		return nil, fmt.Errorf("redistest: %w (or run `make test`, which installs one when root)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	return &Server{cluster: opts.Cluster, proc: proc, option: proc.ClientOption()}, nil
}

func newExternalServer(envVar string, cluster bool) (*Server, error) {
	opt, err := rueidis.ParseURL(os.Getenv(envVar))
	if err != nil {
		return nil, fmt.Errorf("redistest: %s: %w", envVar, err)
	}
	return &Server{cluster: cluster, option: opt}, nil
}

// StartStandalone starts a throwaway standalone server outside of a test, for
// example programs and benchmark drivers. The caller must Stop it.
func StartStandalone() (*Server, error) { return newLocalServer(testserver.Options{}) }

// NewStandalone starts a private standalone server, stopped when the test ends.
// Use it for tests that stop, pause or flush the server.
func NewStandalone(t testing.TB) *Server {
	t.Helper()
	return newPrivate(t, testserver.Options{})
}

// NewCluster starts a private cluster, stopped when the test ends.
func NewCluster(t testing.TB, opts ClusterOptions) *Server {
	t.Helper()
	return newPrivate(t, testserver.Options{Cluster: true, Masters: opts.Masters, Replicas: opts.Replicas, Args: opts.Args})
}

// NewSentinel starts a private master with one replica under three
// Sentinels, stopped when the test ends. Its Option reaches the master
// through the Sentinels (rueidis's ClientOption.Sentinel), so clients
// follow a failover.
func NewSentinel(t testing.TB) *Server {
	t.Helper()
	return newPrivate(t, testserver.Options{Replicas: 1, Sentinels: 3})
}

func newPrivate(t testing.TB, opts testserver.Options) *Server {
	t.Helper()
	s, err := newLocalServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// sharedServer is started on first use and stopped by Main.
type sharedServer struct {
	once   sync.Once
	server *Server
	err    error
	start  func() (*Server, error)
}

func (s *sharedServer) get(t testing.TB) *Server {
	t.Helper()
	s.once.Do(func() { s.server, s.err = s.start() })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.server
}

func (s *sharedServer) stop() {
	if s.server != nil {
		s.server.Stop()
	}
}

var (
	sharedStandalone = &sharedServer{start: func() (*Server, error) {
		if os.Getenv("REDIS_URL") != "" {
			return newExternalServer("REDIS_URL", false)
		}
		return newLocalServer(testserver.Options{})
	}}
	sharedCluster = &sharedServer{start: func() (*Server, error) {
		if os.Getenv("REDIS_CLUSTER_URL") != "" {
			return newExternalServer("REDIS_CLUSTER_URL", true)
		}
		return newLocalServer(testserver.Options{Cluster: true})
	}}
)

// Standalone returns the test binary's shared standalone server. Tests that
// share it must keep to their own keys (see Prefix) and must not flush it.
func Standalone(t testing.TB) *Server { return sharedStandalone.get(t) }

// Cluster returns the test binary's shared three-master cluster.
func Cluster(t testing.TB) *Server { return sharedCluster.get(t) }

// Run runs body as two subtests, "standalone" and "cluster", each on the
// corresponding shared server.
func Run(t *testing.T, body func(t *testing.T, s *Server)) {
	t.Helper()
	t.Run("standalone", func(t *testing.T) { body(t, Standalone(t)) })
	t.Run("cluster", func(t *testing.T) { body(t, Cluster(t)) })
}

// RunPrivate runs body as two subtests, "standalone" and "cluster", each on a
// private server of that kind (a three-master cluster), stopped when the
// subtest ends: for tests that kill, stall, restart or flush the server.
func RunPrivate(t *testing.T, body func(t *testing.T, s *Server)) {
	t.Helper()
	t.Run("standalone", func(t *testing.T) { body(t, NewStandalone(t)) })
	t.Run("cluster", func(t *testing.T) { body(t, NewCluster(t, ClusterOptions{})) })
}

// PrivateLike returns a private server of the same kind as s (a three-master
// cluster for a cluster), stopped when the test ends: for a test that runs
// on the shared servers through Run but must flush or stop its server.
func PrivateLike(t testing.TB, s *Server) *Server {
	t.Helper()
	if s.IsCluster() {
		return NewCluster(t, ClusterOptions{})
	}
	return NewStandalone(t)
}

var prefixCounter atomic.Int64

// Prefix returns a key prefix unique to this test and this call, so tests can
// share a server and run with -count without seeing each other's keys.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", ".", " ", "_", "{", "(", "}", ")").Replace(t.Name())
	return fmt.Sprintf("%s.%d.%d:", name, os.Getpid(), prefixCounter.Add(1))
}

// Name returns an instance name (a cache's name, a limiter's prefix) unique
// to this test and this call, made only of the characters every package
// accepts in names.
func Name(t testing.TB) string {
	clean := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '.'
	}, t.Name())
	if len(clean) > 60 {
		clean = clean[len(clean)-60:]
	}
	return fmt.Sprintf("%s.%d.%d", clean, os.Getpid(), prefixCounter.Add(1))
}

// Main runs the tests, stops the shared servers, and then fails the binary if
// goroutines leaked. Call it from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	sharedStandalone.stop()
	sharedCluster.stop()
	if code == 0 {
		// rueidis closes connections dropped by a cluster topology refresh
		// after 5 s, and runs a delayed topology refresh, from goroutines of
		// its own that outlive Close by up to a few seconds: not leaks of ours.
		opts = append(opts,
			goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
			goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
		)
		// The connections such a refresh dropped stay open until then: a
		// process that exits within those seconds still has their reader
		// and writer goroutines. So a leak is what is left after they end.
		err := goleak.Find(opts...)
		for deadline := time.Now().Add(7 * time.Second); err != nil && time.Now().Before(deadline); err = goleak.Find(opts...) {
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Eventually calls cond until it returns nil, and fails t with cond's last
// error when that has not happened within timeout. It is for conditions that
// settle asynchronously (an invalidation that arrives, a key that expires),
// never as a stand-in for synchronisation a test can force.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", timeout, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// AwaitBreakerOpen calls call, a Redis call of some package on c, until c's
// breaker of key's node is open, for tests of what the other packages on c
// do then. After a kill, the first failures may be the killed connections'
// (reset, EOF), which take 100 ms to open the breaker; a refused dial
// opens it at once.
func AwaitBreakerOpen(t testing.TB, c *typecache.Client, key string, call func()) {
	t.Helper()
	Eventually(t, 10*time.Second, func() error {
		call()
		if !c.Breaker().Open(key) {
			return errors.New("the client's breaker is still closed")
		}
		return nil
	})
}
