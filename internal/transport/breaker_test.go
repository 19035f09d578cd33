package transport_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/transport"
)

var errRefused = errors.New("refused by the breaker")

// guardedGet is a GET sent the way typecache's packages send their calls:
// Allow before, Record after. A nil reply is a success.
func guardedGet(ctx context.Context, c *transport.Conn, timeout time.Duration, key string) error {
	b := c.Breaker()
	if !b.Allow(key) {
		return errRefused
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := c.Redis()
	err := r.Do(callCtx, rediscmd.Retried(r.B().Get().Key(key).Build())).Error()
	b.Record(ctx, key, err)
	if rueidis.IsRedisNil(err) {
		return nil
	}
	return err
}

// TestBreakerIsPerNode: on a cluster, a master that is down opens the
// breaker of its slots only; the other masters' keys keep working, and
// the breaker closes once the node is back, without any call probing it
// (the Conn probes in the background). The nodes name themselves as
// rueidis reads them in each case: by IP, by hostname, or not at all
// (unknown-endpoint: a NULL endpoint, which means the answering node's
// host).
func TestBreakerIsPerNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"ip", nil},
		{"hostname", []string{"--cluster-announce-hostname", "localhost", "--cluster-preferred-endpoint-type", "hostname"}},
		{"unknown endpoint", []string{"--cluster-preferred-endpoint-type", "unknown-endpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			breakerIsPerNode(t, redistest.NewCluster(t, redistest.ClusterOptions{Args: tc.args}))
		})
	}
}

func breakerIsPerNode(t *testing.T, srv *redistest.Server) {
	ctx := context.Background()
	masters := srv.Masters()
	for _, m := range masters {
		// Without replicas, the healthy masters would refuse every slot
		// (CLUSTERDOWN) once they deem the dead one failed.
		if _, err := m.Do("CONFIG", "SET", "cluster-require-full-coverage", "no"); err != nil {
			t.Fatal(err)
		}
	}
	client := srv.Client(t, typecache.WithBreaker(5, 20*time.Millisecond))
	conn := clientconn.Of(client)
	var opens atomic.Int64
	defer conn.Breaker().OnOpen(func() { opens.Add(1) })()

	dead := masters[0]
	var onDead, onLive string
	for i := 0; onDead == "" || onLive == ""; i++ {
		key := fmt.Sprintf("%sk%d", redistest.Prefix(t), i)
		_, err := dead.Do("EXISTS", key)
		switch {
		case err == nil && onDead == "":
			onDead = key
		case err != nil && strings.Contains(err.Error(), "MOVED") && onLive == "":
			onLive = key
		}
	}
	for _, key := range []string{onDead, onLive} {
		if err := guardedGet(ctx, conn, time.Second, key); err != nil {
			t.Fatalf("GET %s before the outage: %v", key, err)
		}
	}

	dead.Stop()
	redistest.Eventually(t, 10*time.Second, func() error {
		if err := guardedGet(ctx, conn, time.Second, onDead); err != errRefused {
			return fmt.Errorf("GET of the dead node's key: %v, want the breaker to refuse it", err)
		}
		return nil
	})
	for i := range 20 {
		if err := guardedGet(ctx, conn, time.Second, onLive); err != nil {
			t.Fatalf("GET %d of a live node's key while another node is down: %v", i, err)
		}
	}
	if n := opens.Load(); n != 1 {
		t.Fatalf("breakers opened %d times, want once (the dead node's)", n)
	}

	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		if !conn.Breaker().Allow(onDead) {
			return errors.New("the dead node's breaker is still open")
		}
		return nil
	})
	redistest.Eventually(t, 10*time.Second, func() error { return guardedGet(ctx, conn, time.Second, onDead) })
}

// TestBreakerStall: a server that stalls (frozen) opens the breaker
// through calls that reach their own deadline; then callers are refused at
// once while the Client probes in the background, and the breaker closes
// when the stall ends. The stall ends when the test thaws the server, not
// at a fixed time (CLIENT PAUSE) that a slow machine could reach before the
// first call.
func TestBreakerStall(t *testing.T) {
	ctx := context.Background()
	srv := redistest.NewStandalone(t)
	client := srv.Client(t, typecache.WithBreaker(1, 20*time.Millisecond))
	conn := clientconn.Of(client)
	key := redistest.Prefix(t) + "k"
	if err := guardedGet(ctx, conn, time.Second, key); err != nil {
		t.Fatal(err)
	}
	node := srv.Nodes()[0]
	node.Freeze(t)
	if err := guardedGet(ctx, conn, 50*time.Millisecond, key); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GET during the stall: %v, want its deadline", err)
	}
	if err := guardedGet(ctx, conn, time.Second, key); err != errRefused {
		t.Fatalf("GET after a stalled call: %v, want the breaker to refuse it", err)
	}
	node.Thaw()
	redistest.Eventually(t, 10*time.Second, func() error {
		if !conn.Breaker().Allow(key) {
			return errors.New("still open")
		}
		return nil
	})
	if err := guardedGet(ctx, conn, time.Second, key); err != nil {
		t.Fatalf("GET after the stall: %v", err)
	}
}

// TestBreakerOfUnknownNode: a breaker whose node rueidis does not know (an
// address the topology watch derived otherwise, a node gone) cannot be
// probed; it must not stay open, refusing its slots until the topology
// changes.
func TestBreakerOfUnknownNode(t *testing.T) {
	srv := redistest.Standalone(t)
	conn, err := transport.Dial(srv.Option(), transport.Options{Breaker: transport.BreakerOptions{Failures: 1, Cooldown: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	b := conn.Breaker()
	transport.RouteAllTo(b, "nowhere.invalid:1")
	b.Record(context.Background(), "k", errors.New("read: connection reset by peer"))
	if b.Allow("k") {
		t.Fatal("the breaker did not open")
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		if !b.Allow("k") {
			return errors.New("the breaker of an unknown node is still open")
		}
		return nil
	})
}

// TestCallerDeadlinesAreNotFailures: calls whose callers' own deadlines
// run out (1 µs request budgets, arriving over a quarter second) say
// nothing about Redis: on a healthy server every breaker stays closed.
func TestCallerDeadlinesAreNotFailures(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		conn := clientconn.Of(srv.Client(t))
		var opens atomic.Int64
		defer conn.Breaker().OnOpen(func() { opens.Add(1) })()
		prefix := redistest.Prefix(t)
		arrivals := time.NewTicker(250 * time.Microsecond)
		defer arrivals.Stop()
		expired := 0
		for i := range 1000 {
			<-arrivals.C
			key := prefix + strconv.Itoa(i%16)
			ctx, cancel := context.WithTimeout(context.Background(), time.Microsecond)
			err := guardedGet(ctx, conn, time.Second, key)
			cancel()
			switch {
			case err == errRefused:
				t.Fatalf("call %d refused by the breaker", i)
			case errors.Is(err, context.DeadlineExceeded):
				expired++
			}
		}
		if n := opens.Load(); n != 0 {
			t.Fatalf("breakers opened %d times on a healthy server", n)
		}
		for i := range 16 {
			if key := prefix + strconv.Itoa(i); !conn.Breaker().Allow(key) {
				t.Fatalf("the breaker of %s is open", key)
			}
		}
		t.Logf("%d of 1000 calls ran out of their caller's time", expired)
	})
}

// TestBreakerStallWithCallerDeadlines: while a node stalls (CLIENT PAUSE),
// callers with 300 ms request budgets give up before the node could have
// answered; their expiries check the node, and the check, which gets no
// reply within a second, opens the breaker about a second after the first
// expiry. It closes when the pause ends.
func TestBreakerStallWithCallerDeadlines(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		conn := clientconn.Of(srv.Client(t))
		key := redistest.Prefix(t) + "k"
		if err := guardedGet(ctx, conn, time.Second, key); err != nil {
			t.Fatal(err)
		}
		if _, err := nodeOf(t, srv, key).Do("CLIENT", "PAUSE", "4000"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for conn.Breaker().Allow(key) {
			if time.Since(start) > 4*time.Second {
				t.Fatal("the breaker did not open during the pause")
			}
			callerCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err := guardedGet(callerCtx, conn, time.Second, key)
			cancel()
			if err == nil {
				t.Fatal("GET answered during the pause")
			}
		}
		opened := time.Since(start)
		t.Logf("opened %v after the pause began", opened)
		if opened > 2500*time.Millisecond {
			t.Fatalf("opened %v after the pause began, want about 1.3 s (the first expiry, then a check of a second)", opened)
		}
		redistest.Eventually(t, 10*time.Second, func() error { return guardedGet(ctx, conn, time.Second, key) })
	})
}

// TestCheckEndsAtClose: a check that a caller's expiry started on a
// stalled node ends when the Conn is closed (TestMain's goleak finds a
// check left running).
func TestCheckEndsAtClose(t *testing.T) {
	srv := redistest.NewStandalone(t)
	client := srv.Client(t)
	conn := clientconn.Of(client)
	key := redistest.Prefix(t) + "k"
	if err := guardedGet(context.Background(), conn, time.Second, key); err != nil {
		t.Fatal(err)
	}
	srv.Nodes()[0].Freeze(t) // until the test ends
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := guardedGet(ctx, conn, time.Second, key); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GET during the stall: %v, want the caller's deadline", err)
	}
	client.Close()
}

// nodeOf returns the master of srv that serves key.
func nodeOf(t *testing.T, srv *redistest.Server, key string) *redistest.Node {
	t.Helper()
	for _, n := range srv.Masters() {
		if _, err := n.Do("EXISTS", key); err == nil {
			return n
		}
	}
	t.Fatalf("no master serves %s", key)
	return nil
}
