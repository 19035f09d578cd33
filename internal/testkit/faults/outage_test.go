package faults_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// What an outage costs the application: one sequential caller per
// package, for outageSpan, with the server killed (and then with it paused),
// each call timed. The figures (p50, p99, max, calls over 50 ms) go to
// docs/operations.md; the test itself fails only on a hang or a wrong
// answer: speeds are measured, never asserted.

// slowCall is what the figures count as a slow call.
const slowCall = 50 * time.Millisecond

// outageWorkload is one package's call, made in a loop; outcomes, for an
// HTTP workload, counts its answers by kind (status and what the page
// saw), nil for the others.
type outageWorkload struct {
	call     func(ctx context.Context, i int) error
	outcomes map[string]int
}

// What the session pages say they saw, in the X-Session header.
const (
	sawSession   = "with the session"
	sawAnonymous = "as anonymous, LoadError wraps ErrUnavailable"
	sawTimedOut  = "as anonymous, LoadError is the lookup's deadline (outcome unknown, not ErrUnavailable)"
	sawNone      = "without a session, no LoadError"
)

// outageWorkloads are the calls each package's caller makes in a loop.
func outageWorkloads(t *testing.T, s *stack) map[string]outageWorkload {
	loader := cache.LoaderFunc[string](func(context.Context, string) (string, error) {
		time.Sleep(time.Millisecond)
		return "v", nil
	})
	// A session created before the outage; the middleware runs with the
	// stack's default options (FailureMode ServeAnonymous). /public never
	// asks for the session, /account reads it.
	handler := s.sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			if _, err := s.sessions.Start(r.Context(), "u1", profile{Name: "Ada"}); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		case "/account":
			switch {
			case s.sessions.Current(r.Context()) != nil:
				w.Header().Set("X-Session", sawSession)
			case errors.Is(s.sessions.LoadError(r.Context()), session.ErrUnavailable):
				w.Header().Set("X-Session", sawAnonymous)
			case s.sessions.LoadError(r.Context()) != nil: // a paused server: the lookup timed out
				w.Header().Set("X-Session", sawTimedOut)
			default:
				w.Header().Set("X-Session", sawNone)
			}
		}
	}))
	start := httptest.NewRecorder()
	handler.ServeHTTP(start, httptest.NewRequest("GET", "https://app.test/start", nil))
	cookies := start.Result().Cookies()
	if len(cookies) == 0 {
		t.Fatalf("starting a session set no cookie: %d %s", start.Code, start.Body)
	}
	// page requests path with the session cookie and counts its answer in
	// outcomes; anything but a 200 (and, on /account, a page that lost
	// the session instead of seeing it or ErrUnavailable) is wrong.
	page := func(path string, outcomes map[string]int) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			req := httptest.NewRequest("GET", "https://app.test"+path, nil).WithContext(ctx)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			outcome := strconv.Itoa(rec.Code) + " " + rec.Header().Get("X-Session")
			outcomes[strings.TrimSpace(outcome)]++
			if rec.Code != http.StatusOK || rec.Header().Get("X-Session") == sawNone {
				return errors.New(path + " answered " + outcome)
			}
			return nil
		}
	}
	public, account := map[string]int{}, map[string]int{}
	return map[string]outageWorkload{
		"cache Fetch (loader 1 ms)": {call: func(ctx context.Context, i int) error {
			v, err := s.cache.Fetch(ctx, "k"+strconv.Itoa(i%100), loader)
			if err == nil && v != "v" {
				return errors.New("wrong value " + v)
			}
			return err
		}},
		"ratelimit Allow (FailOpen)": {call: func(ctx context.Context, i int) error {
			res, err := s.openLimit.Allow(ctx, "client")
			if err == nil && !res.Allowed {
				return errors.New("a FailOpen limiter denied during the outage")
			}
			return err
		}},
		"session middleware, page not using the session, with a cookie (ServeAnonymous)": {
			call: page("/public", public), outcomes: public,
		},
		"session middleware, page reading the session, with a cookie (ServeAnonymous)": {
			call: page("/account", account), outcomes: account,
		},
	}
}

// runOutage calls each workload in turn, sequentially, for span, and
// reports its figures under label; a call's error is a wrong answer. No
// call starts after outageEnds (the zero time: never), and one that
// returns after it is not judged: the server may have answered it.
func runOutage(t *testing.T, label string, span time.Duration, outageEnds time.Time, workloads map[string]outageWorkload) {
	during := func(at time.Time) bool { return outageEnds.IsZero() || at.Before(outageEnds) }
	for name, w := range workloads {
		var took []time.Duration
		slow, wrong, after := 0, 0, 0
		end := time.Now().Add(span)
		for i := 0; time.Now().Before(end) && during(time.Now()); i++ {
			d, err := timed(t, name, opTimeout, func(ctx context.Context) error { return w.call(ctx, i) })
			if !during(time.Now()) {
				after++
				continue
			}
			took = append(took, d)
			if d > slowCall {
				slow++
			}
			if err != nil {
				if wrong == 0 {
					t.Errorf("%s: %s: %v", label, name, err)
				}
				wrong++
			}
		}
		p50, p99, maxD := percentiles(took)
		var late string
		if after > 0 {
			late = fmt.Sprintf(" (%d more returned after the outage, not counted)", after)
		}
		figure(t, label+": "+name, "%d calls in %s%s: p50 %s, p99 %s, max %s, %d over %s, %d wrong%s",
			len(took), span, late, ms(p50), ms(p99), ms(maxD), slow, slowCall, wrong, outcomeText(w.outcomes))
	}
}

// outcomeText lists outcomes, sorted, as "; answers: 200 ×n, …", or ""
// when there are none.
func outcomeText(outcomes map[string]int) string {
	if len(outcomes) == 0 {
		return ""
	}
	var parts []string
	for _, o := range slices.Sorted(maps.Keys(outcomes)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", o, outcomes[o]))
	}
	return "; answers: " + strings.Join(parts, ", ")
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
		runOutage(t, "server killed", span, time.Time{}, workloads)
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
		paused := time.Now()
		if _, err := srv.Nodes()[0].Do("CLIENT", "PAUSE", strconv.Itoa(int(pause/time.Millisecond)), "ALL"); err != nil {
			t.Fatal(err)
		}
		// Each workload gets a share of the pause; a call the pause held
		// past its share (up to opTimeout) eats into the next ones', and
		// none is judged once the server may answer again (a limiter that
		// Redis answers then may rightly deny).
		runOutage(t, "CLIENT PAUSE "+pause.String(), min(span, pause/time.Duration(len(workloads)+1)), paused.Add(pause-100*time.Millisecond), workloads)
	})
}
