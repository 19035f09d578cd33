package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// Scenario 3: the server shuts down without saving and starts again, empty,
// on the same port. While it is down every call fails fast and the
// limiters follow their failure mode; a held lock is reported lost; after
// it is back the cache refills and never serves a value from before the
// restart, sessions are simply gone, and locks work again.
func TestServerRestartedEmpty(t *testing.T) {
	srv := redistest.NewStandalone(t)
	s := newStack(t, srv)
	other := newStackCache(t, srv, s) // another process's cache of the same name
	ctx := context.Background()
	for _, k := range []string{"rewritten", "gone"} {
		if err := s.cache.Set(ctx, k, "before"); err != nil {
			t.Fatal(err)
		}
		if v, err := s.cache.Get(ctx, k); err != nil || v != "before" {
			t.Fatalf("Get(%s) = %q, %v", k, v, err)
		}
	}
	sess, err := s.sessions.Create(ctx, "u1", profile{Name: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	held, err := s.locks.TryAcquire(ctx, "held")
	if err != nil {
		t.Fatal(err)
	}
	loss := watchLoss(held)

	node := srv.Nodes()[0]
	downAt := time.Now()
	_, _ = node.Do("SHUTDOWN", "NOSAVE") // the connection drops with the server
	node.Stop()                          // reaps the process

	const short = 300 * time.Millisecond
	// A value in the local tier is served until rueidis's reader notices the
	// lost connection, which the server's exit does not wait for; from then
	// on the tier is empty and Get fails. Only "the value before" may come
	// back while it lasts.
	var took time.Duration
	for {
		took, err = timed(t, "cache.Get while down", short, func(ctx context.Context) error {
			v, err := s.cache.Get(ctx, "rewritten")
			if err == nil && v != "before" {
				t.Errorf("cache.Get while down = %q, want the value before or an error", v)
			}
			return err
		})
		if err != nil {
			break
		}
		if time.Since(downAt) > time.Second {
			t.Fatal("cache.Get still served the local tier 1 s after the server went down")
		}
		time.Sleep(time.Millisecond)
	}
	figure(t, "cache.Get while down", "local tier flushed %s after the shutdown; then Get fails in %s: %v", ms(time.Since(downAt)-took), ms(took), err)
	var got string
	took, err = timed(t, "cache.Fetch while down", time.Second, func(ctx context.Context) error {
		got, err = s.cache.Fetch(ctx, "fetched", cache.LoaderFunc[string](func(context.Context, string) (string, error) { return "loaded", nil }))
		return err
	})
	figure(t, "cache.Fetch while down", "%s, value %q, err %v", ms(took), got, err)
	if err != nil || got != "loaded" {
		t.Errorf("Fetch while down = %q, %v; want the loader's value", got, err)
	}
	for _, l := range []struct {
		limiter *ratelimit.Limiter
		allowed bool
		source  ratelimit.Source
	}{{s.openLimit, true, ratelimit.FromFailOpen}, {s.closeLimit, false, ratelimit.FromFailClosed}} {
		var res ratelimit.Result
		took, err := timed(t, "ratelimit while down", short, func(ctx context.Context) error { res, err = l.limiter.Allow(ctx, "ip"); return err })
		figure(t, fmt.Sprintf("ratelimit %v while down", l.source), "%s, allowed %v", ms(took), res.Allowed)
		if err != nil || res.Allowed != l.allowed || res.Source != l.source || res.Err == nil {
			t.Errorf("limiter while down = %+v, %v; want allowed %v from %v with the Redis error", res, err, l.allowed, l.source)
		}
	}
	took, err = timed(t, "session.Get while down", short, func(ctx context.Context) error { _, err := s.sessions.Get(ctx, sess.Token); return err })
	figure(t, "session.Get while down", "%s, err %v", ms(took), err)
	if err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("session.Get while down = %v; want a Redis error, not a session (nor not-found: the server may come back)", err)
	}
	lostAt := loss.requireLost(t, downAt, lockValidity+hangSlack)
	figure(t, "held lock reported lost after shutdown", "%s (lease %s)", ms(lostAt.Sub(downAt)), lockValidity)

	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	// Another process writes after the restart; this process must see it.
	recovered := eventually(t, "another client's write after the restart", 5*time.Second, func() error {
		return other.Set(ctx, "rewritten", "after")
	})
	seen := eventually(t, "reading the new value", 5*time.Second, func() error {
		v, err := s.cache.Get(ctx, "rewritten")
		if err == nil && v == "before" {
			t.Fatalf("Get returned the value from before the restart after another client overwrote it")
		}
		if err == nil && v != "after" {
			return fmt.Errorf("got %q", v)
		}
		return err
	})
	figure(t, "first successful write after restart", "%s (breaker cooldown %s)", ms(recovered), typecache.DefaultBreakerCooldown)
	figure(t, "the other client's new value read after restart", "%s after the server was up (%s polling)", ms(time.Since(upAt)), ms(seen))
	if v, err := s.cache.Get(ctx, "gone"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get(gone) after an empty restart = %q, %v; want cache.ErrNotFound (the local tier must have been dropped)", v, err)
	}
	loads := 0
	v, err := s.cache.Fetch(ctx, "refilled", cache.LoaderFunc[string](func(context.Context, string) (string, error) { loads++; return "loaded", nil }))
	if err != nil || v != "loaded" || loads != 1 {
		t.Fatalf("Fetch after restart = %q, %v with %d loads", v, err, loads)
	}
	if v, err := other.Get(ctx, "refilled"); err != nil || v != "loaded" {
		t.Errorf("the refilled value is not in Redis: %q, %v", v, err)
	}

	if _, err := s.sessions.Get(ctx, sess.Token); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("session.Get after an empty restart = %v; want session.ErrNotFound", err)
	}
	var handlerRan bool
	h := s.sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerRan = s.sessions.Current(r.Context()) == nil
	}))
	req := httptest.NewRequest("GET", "https://example.com/", nil)
	req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: sess.Token})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !handlerRan {
		t.Errorf("request with a cookie from before the restart: status %d, handler ran without session: %v; want 200 and no session", rec.Code, handlerRan)
	}

	if err := held.Release(ctx); err == nil {
		t.Errorf("Release of a lock lost in the restart succeeded")
	}
	l, err := s.locks.TryAcquire(ctx, "held")
	if err != nil {
		t.Fatalf("TryAcquire after restart: %v", err)
	}
	figure(t, "fencing token of the same lock name before / after an empty restart", "%d / %d", held.Token(), l.Token())
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// newStackCache returns a Cache on a second client, with the same name as
// s.cache: another process's view of the same keys.
func newStackCache(t *testing.T, srv *redistest.Server, s *stack) *cache.Cache[string] {
	t.Helper()
	c, err := cache.New[string](srv.Client(t), s.cacheName, cache.Options[string]{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
