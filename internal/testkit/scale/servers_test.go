package scale_test

// This file is the harness's only link to typecache's test servers
// (internal/redistest, internal/testserver): the rest of the package goes
// through the names below.

import (
	"testing"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// child is one process of the fleet: this test binary run again as
// TestHelperProcess.
type child = redistest.Child

// fleetCluster is the three-master cluster a run's processes share.
type fleetCluster struct{ srv *redistest.Server }

// startCluster starts a private three-master cluster, stopped when the test
// ends.
func startCluster(t *testing.T) fleetCluster {
	return fleetCluster{redistest.NewCluster(t, redistest.ClusterOptions{})}
}

// env is the environment entry through which a child reaches the cluster
// (see childClientOption).
func (c fleetCluster) env() string { return c.srv.Env() }

// client returns a client of the cluster, closed when the test ends.
func (c fleetCluster) client(t *testing.T) *typecache.Client { return c.srv.Client(t) }

// flush empties every master.
func (c fleetCluster) flush(t *testing.T) { c.srv.FlushAll(t) }

// onMasters runs one command on every master and returns the replies, in
// the masters' order.
func (c fleetCluster) onMasters(args ...string) ([]string, error) {
	var replies []string
	for _, n := range c.srv.Masters() {
		reply, err := n.Do(args...)
		if err != nil {
			return nil, err
		}
		replies = append(replies, reply)
	}
	return replies, nil
}

// startChildren starts n processes, child i with env(i) added to its
// environment, and returns once all of them wait in childReady.
func startChildren(t *testing.T, n int, env func(i int) []string) []*child {
	return redistest.StartChildren(t, n, env)
}

// release lets every child waiting in childReady go.
func release(t *testing.T, children []*child) { redistest.Release(t, children) }

// childReady is a child's half of the start barrier.
func childReady() error { return redistest.Ready() }

// childClientOption returns, in a child, the client options that reach the
// cluster its parent passed with fleetCluster.env; ok is false when the
// process was not started as a child.
func childClientOption() (opt rueidis.ClientOption, ok bool) {
	srv := redistest.ServerFromEnv()
	if srv == nil {
		return opt, false
	}
	return srv.Option(), true
}
