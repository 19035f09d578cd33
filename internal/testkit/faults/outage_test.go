package faults_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// What an outage costs the application: one sequential caller per
// package, for outageSpan, with the server killed (and then with it paused),
// each call timed. The figures (p50, p99, max, calls over 50 ms) go to
// docs/operations.md; the test itself fails only on a hang or a wrong
// answer: speeds are measured, never asserted.

// slowCall is what the figures count as a slow call.
const slowCall = 50 * time.Millisecond

// outageWorkloads are the calls each package's caller makes in a loop.
func outageWorkloads(t *testing.T, s *stack) map[string]func(ctx context.Context, i int) error {
	loader := cache.LoaderFunc[string](func(context.Context, string) (string, error) {
		time.Sleep(time.Millisecond)
		return "v", nil
	})
	// A session created before the outage, read through the middleware.
	handler := s.sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			if _, err := s.sessions.Start(r.Context(), "u1", profile{Name: "Ada"}); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
			return
		}
		if sess := s.sessions.Current(r.Context()); sess == nil {
			http.Error(w, "no session", http.StatusUnauthorized)
		}
	}))
	start := httptest.NewRecorder()
	handler.ServeHTTP(start, httptest.NewRequest("GET", "https://app.test/start", nil))
	cookies := start.Result().Cookies()
	if len(cookies) == 0 {
		t.Fatalf("starting a session set no cookie: %d %s", start.Code, start.Body)
	}
	return map[string]func(ctx context.Context, i int) error{
		"cache Fetch (loader 1 ms)": func(ctx context.Context, i int) error {
			v, err := s.cache.Fetch(ctx, "k"+strconv.Itoa(i%100), loader)
			if err == nil && v != "v" {
				return errors.New("wrong value " + v)
			}
			return err
		},
		"ratelimit Allow (FailOpen)": func(ctx context.Context, i int) error {
			res, err := s.openLimit.Allow(ctx, "client")
			if err == nil && !res.Allowed {
				return errors.New("a FailOpen limiter denied during the outage")
			}
			return err
		},
		"session middleware request": func(ctx context.Context, i int) error {
			req := httptest.NewRequest("GET", "https://app.test/", nil).WithContext(ctx)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			return nil // 200 from memory, or an error page: either way an answer
		},
	}
}

// runOutage calls each workload in turn, sequentially, for span, and
// reports its figures under label.
func runOutage(t *testing.T, label string, span time.Duration, workloads map[string]func(ctx context.Context, i int) error) {
	for name, call := range workloads {
		var took []time.Duration
		slow := 0
		end := time.Now().Add(span)
		for i := 0; time.Now().Before(end); i++ {
			d, _ := timed(t, name, opTimeout, func(ctx context.Context) error { return call(ctx, i) })
			took = append(took, d)
			if d > slowCall {
				slow++
			}
		}
		p50, p99, maxD := percentiles(took)
		figure(t, label+": "+name, "%d calls in %s: p50 %s, p99 %s, max %s, %d over %s",
			len(took), span, ms(p50), ms(p99), ms(maxD), slow, slowCall)
	}
}

// TestOutageCost kills the server, measures, brings it back and checks
// recovery; then pauses a server with CLIENT PAUSE and measures again.
func TestOutageCost(t *testing.T) {
	span := pick(2*time.Second, 10*time.Second)
	ctx := context.Background()
	t.Run("server killed", func(t *testing.T) {
		srv := redistest.NewStandalone(t)
		s := newStack(t, srv)
		workloads := outageWorkloads(t, s)
		if err := s.cache.Set(ctx, "changed", "before"); err != nil {
			t.Fatal(err)
		}
		if v, err := s.cache.Get(ctx, "changed"); err != nil || v != "before" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		node := srv.Nodes()[0]
		node.Kill()
		runOutage(t, "server killed", span, workloads)
		if err := node.Start(); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		other := newStack(t, srv) // another process writes during recovery
		if err := other.client.Redis().Do(ctx, other.client.Redis().B().Ping().Build()).Error(); err != nil {
			t.Fatal(err)
		}
		var firstOK time.Duration
		redistest.Eventually(t, 10*time.Second, func() error {
			_, err := s.cache.Get(ctx, "changed")
			if err == nil || errors.Is(err, cache.ErrNotFound) {
				firstOK = time.Since(back)
				return nil
			}
			return err
		})
		// The server came back empty: the local tier must not serve the
		// value from before the outage, and must see writes made after it.
		if v, err := s.cache.Get(ctx, "changed"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("after the restart Get = %q, %v; want ErrNotFound (the server lost it)", v, err)
		}
		o, err := cache.New[string](other.client, s.cacheName, cache.Options[string]{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if err := o.Set(ctx, "changed", "after"); err != nil {
			t.Fatal(err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if v, err := s.cache.Get(ctx, "changed"); err != nil || v != "after" {
				return errors.New("the recovered cache does not see the new value")
			}
			return nil
		})
		figure(t, "recovery after a restart", "first successful call %s after the server was back; no value from before the outage served", ms(firstOK))
	})
	t.Run("server paused", func(t *testing.T) {
		srv := redistest.NewStandalone(t)
		s := newStack(t, srv)
		workloads := outageWorkloads(t, s)
		pause := 5 * time.Second
		if _, err := srv.Nodes()[0].Do("CLIENT", "PAUSE", strconv.Itoa(int(pause/time.Millisecond)), "ALL"); err != nil {
			t.Fatal(err)
		}
		runOutage(t, "CLIENT PAUSE "+pause.String(), min(span, pause/time.Duration(len(workloads))), workloads)
	})
}
