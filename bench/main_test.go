package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"go.uber.org/goleak"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestMain runs the tests against a throwaway server and checks for leaked
// goroutines. scs.New starts a memstore cleanup goroutine that cannot be
// stopped reliably (StopCleanup races with its start), even though our scs
// contender replaces that store with redisstore.
func TestMain(m *testing.M) {
	redistest.Main(m, goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
}

// User is the value every contender stores and reads: a realistic record of
// strings, numbers, a slice, a map and timestamps, about 1 KB once encoded.
type User struct {
	ID          int64
	Email       string
	Name        string
	Bio         string
	AvatarURL   string
	Locale      string
	Roles       []string
	Preferences map[string]string
	Score       float64
	LoginCount  int
	Verified    bool
	CreatedAt   time.Time
	LastSeenAt  time.Time
}

// sampleUser returns the same User on every call, apart from id.
func sampleUser(id int64) User {
	created := time.Date(2024, 3, 14, 9, 26, 53, 0, time.UTC)
	return User{
		ID:        id,
		Email:     "ada.lovelace" + strconv.FormatInt(id, 10) + "@analytical-engine.example",
		Name:      "Ada Lovelace",
		Bio:       strings.Repeat("Mathematician and writer, known for her work on the proposed mechanical general-purpose computer. ", 5),
		AvatarURL: "https://cdn.example.com/avatars/ada-lovelace/profile-512x512.webp",
		Locale:    "en-GB",
		Roles:     []string{"admin", "editor", "billing", "support", "beta-tester"},
		Preferences: map[string]string{
			"theme":         "dark",
			"language":      "en",
			"timezone":      "Europe/London",
			"notifications": "email,push",
			"digest":        "weekly",
			"editor":        "vim",
		},
		Score:      4217.75,
		LoginCount: 1843,
		Verified:   true,
		CreatedAt:  created,
		LastSeenAt: created.Add(600 * 24 * time.Hour),
	}
}

// equalUser reports whether a and b hold the same data; time.Time values are
// compared as instants, since codecs may drop the monotonic reading or the
// location pointer.
func equalUser(a, b User) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.LastSeenAt.Equal(b.LastSeenAt) {
		return false
	}
	a.CreatedAt, a.LastSeenAt, b.CreatedAt, b.LastSeenAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// benchServer is the Redis server of one benchmark or test, and the clients
// its contenders connect with. Every connection those clients open counts
// its writes: with one request in flight at a time, as in the single-goroutine
// benchmarks, a write is a round trip.
type benchServer struct {
	srv    *redistest.Server
	raw    rueidis.Client // the harness's own client: INFO, coordination
	writes atomic.Int64
}

// server returns the shared standalone server (a throwaway redis-server, or
// the one REDIS_URL names) with a fresh write counter.
func server(tb testing.TB) *benchServer {
	tb.Helper()
	return newBenchServer(tb, redistest.Standalone(tb))
}

// privateServer returns a throwaway redis-server of tb's own, stopped when
// tb ends, even when REDIS_URL is set: for workloads that flush the server
// or measure its memory.
func privateServer(tb testing.TB) *benchServer {
	tb.Helper()
	return newBenchServer(tb, redistest.NewStandalone(tb))
}

func newBenchServer(tb testing.TB, srv *redistest.Server) *benchServer {
	return &benchServer{srv: srv, raw: srv.Raw(tb)}
}

// reportRoundTrips reports the writes to Redis since before, per operation.
func (s *benchServer) reportRoundTrips(b *testing.B, before int64) {
	b.ReportMetric(float64(s.writes.Load()-before)/float64(b.N), "round-trips/op")
}

// countingConn counts its Writes.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// NetConn returns the connection under the count, as (*tls.Conn).NetConn
// does: typecache's direct connections look for the socket through it.
func (c countingConn) NetConn() net.Conn { return c.Conn }

func (s *benchServer) dial(ctx context.Context, dialer *net.Dialer, addr string, tlsConfig *tls.Config) (net.Conn, error) {
	var conn net.Conn
	var err error
	if tlsConfig != nil {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsConfig}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	return countingConn{conn, &s.writes}, nil
}

// rueidisOption returns client options for s whose connections are counted.
func (s *benchServer) rueidisOption(clientSideCache bool) rueidis.ClientOption {
	opt := s.srv.Option()
	opt.DisableCache = !clientSideCache
	opt.DialCtxFn = func(ctx context.Context, addr string, dialer *net.Dialer, tlsConfig *tls.Config) (net.Conn, error) {
		return s.dial(ctx, dialer, addr, tlsConfig)
	}
	return opt
}

// rueidisClient returns a plain rueidis client, closed when tb ends.
func (s *benchServer) rueidisClient(tb testing.TB, clientSideCache bool) rueidis.Client {
	return connect(tb, s.rueidisOption(clientSideCache), rueidis.NewClient)
}

// typecacheClient returns a typecache client with options, closed when tb
// ends.
func (s *benchServer) typecacheClient(tb testing.TB, clientSideCache bool, options ...typecache.Option) *typecache.Client {
	return connect(tb, s.rueidisOption(clientSideCache), func(opt rueidis.ClientOption) (*typecache.Client, error) {
		return typecache.NewClient(opt, options...)
	})
}

// connect builds a client with newClient and closes it when tb ends.
func connect[C interface{ Close() }](tb testing.TB, opt rueidis.ClientOption, newClient func(rueidis.ClientOption) (C, error)) C {
	tb.Helper()
	c, err := newClient(opt)
	if err != nil {
		tb.Fatalf("connect to %v: %v", opt.InitAddress, err)
	}
	tb.Cleanup(c.Close)
	return c
}

// goRedis returns a go-redis client, closed when tb ends.
func (s *benchServer) goRedis(tb testing.TB) *goredis.Client {
	opt := s.srv.Option()
	rdb := goredis.NewClient(&goredis.Options{
		Addr:      opt.InitAddress[0],
		Username:  opt.Username,
		Password:  opt.Password,
		DB:        opt.SelectDB,
		TLSConfig: opt.TLSConfig,
		Dialer: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return s.dial(ctx, &net.Dialer{Timeout: 5 * time.Second}, addr, opt.TLSConfig)
		},
	})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// redigoPool returns a redigo pool, closed when tb ends.
func (s *benchServer) redigoPool(tb testing.TB) *redigo.Pool {
	opt := s.srv.Option()
	pool := &redigo.Pool{
		MaxIdle: 64,
		Dial: func() (redigo.Conn, error) {
			return redigo.Dial("tcp", opt.InitAddress[0],
				redigo.DialUsername(opt.Username), redigo.DialPassword(opt.Password), redigo.DialDatabase(opt.SelectDB),
				redigo.DialContextFunc(func(ctx context.Context, _, addr string) (net.Conn, error) {
					return s.dial(ctx, &net.Dialer{Timeout: 5 * time.Second}, addr, opt.TLSConfig)
				}))
		},
	}
	tb.Cleanup(func() { pool.Close() })
	return pool
}

// redisURL renders the server's address and credentials as a redis:// URL,
// the form REDIS_URL takes, so child processes reach the same server.
func (s *benchServer) redisURL() string {
	opt := s.srv.Option()
	u := url.URL{Scheme: "redis", Host: opt.InitAddress[0], Path: "/" + strconv.Itoa(opt.SelectDB)}
	if opt.TLSConfig != nil {
		u.Scheme = "rediss"
	}
	if opt.Username != "" || opt.Password != "" {
		u.User = url.UserPassword(opt.Username, opt.Password)
	}
	return u.String()
}

// TestServerInfo prints the server's version for the benchmark report. It
// runs only when .ci/bench asks for it with BENCH_SERVER_INFO=1.
func TestServerInfo(t *testing.T) {
	if os.Getenv("BENCH_SERVER_INFO") != "1" {
		t.Skip("run by .ci/bench to stamp the report")
	}
	raw := server(t).raw
	info, err := raw.Do(context.Background(), raw.B().Info().Section("server").Build()).ToString()
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			fmt.Printf("redis: %s\n", v)
			return
		}
	}
	t.Fatalf("INFO server has no redis_version line:\n%s", info)
}
