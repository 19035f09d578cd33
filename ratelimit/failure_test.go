package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
)

// recordingObserver records every event as "method key".
type recordingObserver struct {
	mu     sync.Mutex
	events []string
}

func (o *recordingObserver) record(event, key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, event+" "+key)
}

func (o *recordingObserver) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	events := o.events
	o.events = nil
	return events
}

func (o *recordingObserver) OnAllowed(key string, n int)        { o.record("allowed", key) }
func (o *recordingObserver) OnDenied(key string, n int)         { o.record("denied", key) }
func (o *recordingObserver) OnDeniedLocally(key string, n int)  { o.record("denied-locally", key) }
func (o *recordingObserver) OnFailOpen(key string, err error)   { o.record("fail-open", key) }
func (o *recordingObserver) OnFailClosed(key string, err error) { o.record("fail-closed", key) }
func (o *recordingObserver) OnError(key string, err error)      { o.record("error", key) }

// TestObserver checks that every kind of decision reaches the Observer once.
func TestObserver(t *testing.T) {
	srv := redistest.NewStandalone(t)
	obs := &recordingObserver{}
	ctx := context.Background()
	open := newLimiter(t, srv, ratelimit.Options{Limit: 1, Period: time.Hour, LocalDenyCache: true, Observer: obs})
	closed := newLimiter(t, srv, ratelimit.Options{Limit: 1, Period: time.Hour, FailureMode: ratelimit.FailClosed, Observer: obs})
	for range 3 {
		if _, err := open.Allow(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	raw := srv.Raw(t)
	if err := raw.Do(ctx, raw.B().Lpush().Key(ratelimit.RedisKey(closed, "b")).Element("x").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if _, err := closed.Allow(ctx, "b"); err == nil {
		t.Fatal("Allow on a list: no error")
	}
	if _, err := open.AllowN(ctx, "c", 0); err == nil { // bad input: not an event
		t.Fatal("AllowN(0): no error")
	}
	srv.Masters()[0].Stop()
	for _, l := range []*ratelimit.Limiter{open, closed} {
		if _, err := l.Allow(ctx, "d"); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"allowed a", "denied a", "denied-locally a", "error b", "fail-open d", "fail-closed d"}
	if got := obs.take(); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// TestSharedPrefix is the attack of two limiters left on the default prefix
// with different algorithms, GCRA for the API and a fixed window of 3 for
// logins: they used to write different types to one key, so after one API
// call every login attempt met WRONGTYPE, took it for an outage and failed
// open (20 of 20 allowed). Each algorithm now has keys of its own.
func TestSharedPrefix(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		client := srv.Client(t)
		api, err := ratelimit.New(client, ratelimit.Options{Limit: 100, Period: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		logins, err := ratelimit.New(client, ratelimit.Options{Algorithm: ratelimit.FixedWindow, Limit: 3, Period: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ip := redistest.Name(t) // the client, unique to this run
		ctx := context.Background()
		if res, err := api.Allow(ctx, ip); err != nil || !res.Allowed {
			t.Fatalf("API call = %+v, %v", res, err)
		}
		allowed := 0
		for range 20 {
			res, err := logins.Allow(ctx, ip)
			if err != nil || res.Source != ratelimit.FromRedis {
				t.Fatalf("login attempt = %+v, %v; want a decision of Redis", res, err)
			}
			if res.Allowed {
				allowed++
			}
		}
		if allowed != 3 {
			t.Fatalf("%d of 20 login attempts allowed, want 3", allowed)
		}
	})
}

// TestScriptErrorsAreErrors: a reply that is neither a decision nor an
// outage (here WRONGTYPE, from a key something else wrote) is returned as an
// error in both failure modes, and the middleware answers 500: a limit must
// not switch itself off because its key was damaged.
func TestScriptErrorsAreErrors(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		raw := srv.Raw(t)
		ctx := context.Background()
		for _, algo := range algorithms {
			for _, mode := range []ratelimit.FailureMode{ratelimit.FailOpen, ratelimit.FailClosed} {
				t.Run(fmt.Sprintf("%s/mode-%d", algo, mode), func(t *testing.T) {
					l := newLimiter(t, srv, ratelimit.Options{Algorithm: algo, Limit: 3, Period: time.Minute, FailureMode: mode})
					if err := raw.Do(ctx, raw.B().Lpush().Key(ratelimit.RedisKey(l, "k")).Element("x").Build()).Error(); err != nil {
						t.Fatal(err)
					}
					res, err := l.Allow(ctx, "k")
					if err == nil || res.Allowed || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), `"k"`) {
						t.Fatalf("Allow on a list = %+v, %v; want a WRONGTYPE error naming the key", res, err)
					}
					resp := serve(handler(t, l, ratelimit.MiddlewareOptions{Key: func(*http.Request) string { return "k" }}), httptest.NewRequest("GET", "/", nil))
					if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("RateLimit-Policy") != "" || resp.Header.Get("RateLimit") != "" {
						t.Fatalf("middleware: %d %v, want 500 without rate limit fields", resp.StatusCode, resp.Header)
					}
				})
			}
		}
	})
}

// TestErrorsDecideNothing: the Result that comes with an error is the zero
// Result, whose Source is NoDecision, not a decision of Redis.
func TestErrorsDecideNothing(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		l := newLimiter(t, srv, ratelimit.Options{Limit: 3, Period: time.Minute})
		raw := srv.Raw(t)
		ctx := context.Background()
		if err := raw.Do(ctx, raw.B().Lpush().Key(ratelimit.RedisKey(l, "list")).Element("x").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		tests := []struct {
			name string
			ctx  context.Context
			key  string
			cost int
		}{
			{"empty key", ctx, "", 1},
			{"cost 0", ctx, "k", 0},
			{"cost above the limit", ctx, "k", 4},
			{"cancelled context", cancelled, "k", 1},
			{"WRONGTYPE reply", ctx, "list", 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := l.AllowN(tt.ctx, tt.key, tt.cost)
				if err == nil || res != (ratelimit.Result{}) || res.Source != ratelimit.NoDecision || res.Source.String() != "none" {
					t.Fatalf("AllowN = %+v (source %s), %v; want an error and the zero Result, source none", res, res.Source, err)
				}
			})
		}
		if res, err := l.Allow(ctx, "k"); err != nil || res.Source != ratelimit.FromRedis || res.Source.String() != "redis" {
			t.Fatalf("Allow = %+v (source %s), %v; want a decision of Redis", res, res.Source, err)
		}
	})
}

// TestUnavailable classifies real error replies of Redis: the server's
// "cannot serve now" replies and failures to reach it take the failure mode,
// every other reply is an error.
func TestUnavailable(t *testing.T) {
	raw := redistest.Standalone(t).Raw(t)
	reply := func(text string) error {
		return raw.Do(context.Background(), raw.B().Eval().Script("return redis.error_reply(ARGV[1])").Numkeys(0).Arg(text).Build()).Error()
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"LOADING", reply("LOADING Redis is loading the dataset in memory"), true},
		{"BUSY", reply("BUSY Redis is busy running a script"), true},
		{"CLUSTERDOWN", reply("CLUSTERDOWN The cluster is down"), true},
		{"TRYAGAIN", reply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"MASTERDOWN", reply("MASTERDOWN Link with MASTER is down"), true},
		{"READONLY", reply("READONLY You can't write against a read only replica."), true},
		{"OOM", reply("OOM command not allowed when used memory > 'maxmemory'."), true},
		{"NOREPLICAS", reply("NOREPLICAS Not enough good replicas to write."), true},
		{"WRONGTYPE", reply("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{"ERR", reply("ERR user_script:1: attempt to compare nil with number"), false},
		{"BUSYGROUP", reply("BUSYGROUP Consumer Group name already exists"), false},
		{"wrapped WRONGTYPE", fmt.Errorf("ratelimit: %w", reply("WRONGTYPE x")), false},
		{"connection refused", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), true},
		{"deadline", context.DeadlineExceeded, true},
		{"closed client", rueidis.ErrClosing, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ratelimit.Unavailable(tt.err); got != tt.want {
				t.Fatalf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestReplicaRepliesTakeFailureMode turns a private server into a replica of
// a master that does not exist: its READONLY and MASTERDOWN replies mean
// Redis cannot decide now, so the failure mode decides.
func TestReplicaRepliesTakeFailureMode(t *testing.T) {
	srv := redistest.NewStandalone(t)
	node := srv.Masters()[0]
	ctx := context.Background()
	open := newLimiter(t, srv, ratelimit.Options{Limit: 3, Period: time.Minute})
	closed := newLimiter(t, srv, ratelimit.Options{Limit: 3, Period: time.Minute, FailureMode: ratelimit.FailClosed})
	for _, staleData := range []string{"yes", "no"} { // READONLY, then MASTERDOWN
		t.Run("replica-serve-stale-data "+staleData, func(t *testing.T) {
			for _, cmd := range [][]string{{"CONFIG", "SET", "replica-serve-stale-data", staleData}, {"REPLICAOF", "127.0.0.1", "1"}} {
				if _, err := node.Do(cmd...); err != nil {
					t.Fatal(err)
				}
			}
			defer node.Do("REPLICAOF", "NO", "ONE")
			for _, tt := range []struct {
				l      *ratelimit.Limiter
				source ratelimit.Source
			}{{open, ratelimit.FromFailOpen}, {closed, ratelimit.FromFailClosed}} {
				res, err := tt.l.Allow(ctx, "k")
				if err != nil || res.Source != tt.source || res.Err == nil {
					t.Fatalf("Allow on a detached replica = %+v, %v; want %s", res, err, tt.source)
				}
				t.Logf("%s: %v", tt.source, res.Err)
			}
		})
	}
}

// TestMiddlewareRedisDown stops a private server and checks both failure
// modes at the HTTP level, as docs/ratelimit.md's table of what clients see
// during an outage says: 200 or 503, RateLimit-Policy only.
func TestMiddlewareRedisDown(t *testing.T) {
	srv := redistest.NewStandalone(t)
	handlers := map[ratelimit.FailureMode]http.Handler{}
	for _, mode := range []ratelimit.FailureMode{ratelimit.FailOpen, ratelimit.FailClosed} {
		l := newLimiter(t, srv, ratelimit.Options{Limit: 10, Period: time.Minute, FailureMode: mode})
		handlers[mode] = handler(t, l, ratelimit.MiddlewareOptions{})
		if resp := serve(handlers[mode], httptest.NewRequest("GET", "/", nil)); resp.StatusCode != 200 || resp.Header.Get("RateLimit") == "" {
			t.Fatalf("mode %d with Redis up: %d %v", mode, resp.StatusCode, resp.Header)
		}
	}
	srv.Masters()[0].Stop()
	open := serve(handlers[ratelimit.FailOpen], httptest.NewRequest("GET", "/", nil))
	closed := serve(handlers[ratelimit.FailClosed], httptest.NewRequest("GET", "/", nil))
	for _, resp := range []*http.Response{open, closed} {
		if policy, state := rateLimitFields(t, resp.Header); policy.params["q"] != 10 || state != nil || resp.Header.Get("Retry-After") != "" {
			t.Fatalf("fallback headers %v: want the policy only, no RateLimit, no Retry-After", resp.Header)
		}
	}
	if open.StatusCode != 200 {
		t.Fatalf("fail-open with Redis down: %d, want 200", open.StatusCode)
	}
	if body, _ := io.ReadAll(closed.Body); closed.StatusCode != 503 || !strings.Contains(string(body), "unavailable") {
		t.Fatalf("fail-closed with Redis down: %d %q, want 503", closed.StatusCode, body)
	}
}

// TestMiddlewareTimeout: a Redis that stalls (CLIENT PAUSE) costs a request
// at most the middleware's Timeout, then the failure mode decides.
func TestMiddlewareTimeout(t *testing.T) {
	srv := redistest.NewStandalone(t)
	l := newLimiter(t, srv, ratelimit.Options{Limit: 10, Period: time.Minute})
	h := handler(t, l, ratelimit.MiddlewareOptions{Timeout: 50 * time.Millisecond})
	if resp := serve(h, httptest.NewRequest("GET", "/", nil)); resp.Header.Get("RateLimit") == "" {
		t.Fatalf("with Redis up: %v", resp.Header)
	}
	if _, err := srv.Masters()[0].Do("CLIENT", "PAUSE", "3000", "WRITE"); err != nil {
		t.Fatal(err)
	}
	defer srv.Masters()[0].Do("CLIENT", "UNPAUSE")
	start := time.Now()
	resp := serve(h, httptest.NewRequest("GET", "/", nil))
	if elapsed := time.Since(start); resp.StatusCode != 200 || resp.Header.Get("RateLimit") != "" || elapsed > time.Second {
		t.Fatalf("with Redis paused: %d %v after %s; want a fail-open 200 after about 50 ms", resp.StatusCode, resp.Header, elapsed)
	}
}

// TestFailOpenFailsFast: with the server killed, a refused connection fails
// at once, so a FailOpen decision costs microseconds, not a retry loop until
// a deadline. It logs the latency figures of 1,000 sequential decisions.
func TestFailOpenFailsFast(t *testing.T) {
	srv := redistest.NewStandalone(t)
	l := newLimiter(t, srv, ratelimit.Options{Limit: 10, Period: time.Minute})
	h := handler(t, l, ratelimit.MiddlewareOptions{})
	ctx := context.Background()
	if _, err := l.Allow(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	srv.Masters()[0].Kill()
	const n = 1000
	for _, path := range []struct {
		name   string
		decide func() bool
	}{
		{"Allow", func() bool {
			res, err := l.Allow(ctx, "k")
			return err == nil && res.Source == ratelimit.FromFailOpen
		}},
		{"middleware", func() bool {
			return serve(h, httptest.NewRequest("GET", "/", nil)).StatusCode == http.StatusOK
		}},
	} {
		took := make([]time.Duration, n)
		for i := range took {
			start := time.Now()
			if !path.decide() {
				t.Fatalf("%s: decision %d was not a fail-open admission", path.name, i)
			}
			took[i] = time.Since(start)
		}
		slices.Sort(took)
		slow := n - slices.IndexFunc(took, func(d time.Duration) bool { return d > 50*time.Millisecond })
		if slow > n {
			slow = 0
		}
		t.Logf("%s with the server killed, %d sequential decisions: p50 %s, p99 %s, max %s, %d above 50 ms",
			path.name, n, took[n/2], took[n*99/100], took[n-1], slow)
		// A limiter that waited on the dead server would spend the
		// middleware's Timeout (100 ms) on every decision; the median says
		// so whatever a loaded machine does to the slowest few.
		if took[n/2] > 50*time.Millisecond {
			t.Fatalf("%s: p50 %s: a refused connection must fail at once", path.name, took[n/2])
		}
	}
}

// TestFailureModes checks the decisions Allow returns while Redis is down and
// after it is back.
func TestFailureModes(t *testing.T) {
	srv := redistest.NewStandalone(t)
	ctx := context.Background()
	open := newLimiter(t, srv, ratelimit.Options{Limit: 10, Period: time.Minute})
	closed := newLimiter(t, srv, ratelimit.Options{Limit: 10, Period: time.Minute, FailureMode: ratelimit.FailClosed})
	node := srv.Masters()[0]
	node.Stop()
	tests := []struct {
		l       *ratelimit.Limiter
		allowed bool
		source  ratelimit.Source
	}{
		{open, true, ratelimit.FromFailOpen},
		{closed, false, ratelimit.FromFailClosed},
	}
	for _, tt := range tests {
		res, err := tt.l.Allow(ctx, "k")
		if err != nil || res.Allowed != tt.allowed || res.Source != tt.source || res.Err == nil || !strings.Contains(res.Err.Error(), `"k"`) {
			t.Fatalf("%s: Allow with Redis down = %+v, %v", tt.source, res, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := closed.Allow(cancelled, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Allow with a cancelled context: %v, want context.Canceled (no fallback)", err)
	}
	expired, cancelExpired := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancelExpired()
	if res, err := closed.Allow(expired, "k"); err != nil || res.Source != ratelimit.FromFailClosed {
		t.Fatalf("Allow past its deadline = %+v, %v; want a fail-closed decision (Redis too slow)", res, err)
	}
	if err := closed.Reset(ctx, "k"); err == nil {
		t.Fatal("Reset with Redis down succeeded")
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	// rueidis reconnects on its own
	redistest.Eventually(t, 10*time.Second, func() error {
		res, err := closed.Allow(ctx, "k")
		switch {
		case err != nil:
			t.Fatal(err)
		case res.Source != ratelimit.FromRedis:
			return fmt.Errorf("still %s after Redis came back", res.Source)
		case !res.Allowed || res.Remaining != 9:
			t.Fatalf("after restart: %+v", res)
		}
		return nil
	})
}

// TestLogObserver checks LogObserver's lines and levels, and that a level
// the handler leaves out costs no allocation.
func TestLogObserver(t *testing.T) {
	var buf strings.Builder
	obs := ratelimit.LogObserver(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})))
	cause := errors.New("connection refused")
	obs.OnAllowed("1.2.3.4", 1)
	obs.OnDenied("1.2.3.4", 2)
	obs.OnDeniedLocally("1.2.3.4", 2)
	obs.OnFailOpen("1.2.3.4", cause)
	obs.OnFailClosed("5.6.7.8", cause)
	obs.OnError("5.6.7.8", cause)
	want := `level=DEBUG msg="rate limit allowed" key=1.2.3.4 cost=1
level=DEBUG msg="rate limit denied" key=1.2.3.4 cost=2
level=DEBUG msg="rate limit denied locally" key=1.2.3.4 cost=2
level=WARN msg="rate limit failed open" key=1.2.3.4 err="connection refused"
level=WARN msg="rate limit failed closed" key=5.6.7.8 err="connection refused"
level=ERROR msg="rate limit error" key=5.6.7.8 err="connection refused"
`
	if buf.String() != want {
		t.Fatalf("logged:\n%s\nwant:\n%s", buf.String(), want)
	}
	quiet := ratelimit.LogObserver(slog.New(slog.NewTextHandler(io.Discard, nil))) // Info and above
	if allocs := testing.AllocsPerRun(100, func() { quiet.OnAllowed("1.2.3.4", 1) }); allocs != 0 {
		t.Fatalf("OnAllowed below the handler's level: %v allocations", allocs)
	}
}

// TestBreakerSharedWithOtherPackages: the breakers belong to the client, so
// once a cache on the same client has found the server down, the limiter
// decides by its FailureMode without a round trip (Result.Err wraps
// ErrUnavailable), and it asks Redis again once the client's background
// probe finds the server back.
func TestBreakerSharedWithOtherPackages(t *testing.T) {
	srv := redistest.NewStandalone(t)
	ctx := context.Background()
	client := srv.Client(t, typecache.WithBreaker(5, 20*time.Millisecond))
	l, err := ratelimit.New(client, ratelimit.Options{Prefix: redistest.Name(t), Limit: 1, Period: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New[string](client, redistest.Name(t), cache.Options[string]{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	node := srv.Masters()[0]
	node.Kill()
	redistest.AwaitBreakerOpen(t, client, "k", func() { c.Get(ctx, "k") })
	res, err := l.Allow(ctx, "k")
	if err != nil || res.Source != ratelimit.FromFailOpen || !errors.Is(res.Err, ratelimit.ErrUnavailable) || res.Err.Error() != `ratelimit: key "k": redis unavailable (circuit open)` {
		t.Fatalf("Allow after the cache found the server down = %+v, %v; want a fail-open decision wrapping ErrUnavailable", res, err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		res, err := l.Allow(ctx, "k")
		if err != nil || res.Source != ratelimit.FromRedis {
			return fmt.Errorf("Allow = %+v, %v; want Redis's decision", res, err)
		}
		return nil
	})
}
