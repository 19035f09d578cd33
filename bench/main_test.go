package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"go.uber.org/goleak"

	"github.com/typecache/typecache/internal/redistest"
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

// server returns the shared standalone server: a throwaway redis-server, or
// the one REDIS_URL names.
func server(tb testing.TB) *redistest.Server {
	tb.Helper()
	return redistest.Standalone(tb)
}

// redisURL renders srv's address and credentials as a redis:// URL, the form
// REDIS_URL takes, so child processes reach the same server.
func redisURL(srv *redistest.Server) string {
	opt := srv.Option()
	u := url.URL{Scheme: "redis", Host: opt.InitAddress[0], Path: "/" + strconv.Itoa(opt.SelectDB)}
	if opt.Username != "" || opt.Password != "" {
		u.User = url.UserPassword(opt.Username, opt.Password)
	}
	return u.String()
}

// newGoRedis returns a go-redis client for srv, closed when tb ends.
func newGoRedis(tb testing.TB, srv *redistest.Server) *goredis.Client {
	tb.Helper()
	opt := srv.Option()
	rdb := goredis.NewClient(&goredis.Options{
		Addr:     opt.InitAddress[0],
		Username: opt.Username,
		Password: opt.Password,
		DB:       opt.SelectDB,
	})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// newRueidisCaching returns a plain rueidis client with client-side caching
// on (the rueidis default), closed when tb ends.
func newRueidisCaching(tb testing.TB, srv *redistest.Server) rueidis.Client {
	tb.Helper()
	c, err := rueidis.NewClient(srv.Option())
	if err != nil {
		tb.Fatalf("rueidis: connect: %v", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// TestServerInfo prints the server's version for the benchmark report. It
// runs only when .ci/bench asks for it with BENCH_SERVER_INFO=1.
func TestServerInfo(t *testing.T) {
	if os.Getenv("BENCH_SERVER_INFO") != "1" {
		t.Skip("run by .ci/bench to stamp the report")
	}
	raw := server(t).Raw(t)
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
