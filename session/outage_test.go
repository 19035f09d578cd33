package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/closetest"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// killAll kills every master of srv and waits until client has noticed:
// it dropped what it kept, and each of its connections to the masters
// refuses, so that the next call dials. That is what an application meets
// once Redis has been down for a moment.
func killAll(t *testing.T, srv *redistest.Server, client *typecache.Client) {
	t.Helper()
	flushes := watchFlushes(t, client)
	before := flushes.n.Load()
	for _, node := range srv.Masters() {
		node.Kill()
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		if flushes.n.Load() == before {
			return errors.New("the client has not noticed the kill")
		}
		return nil
	})
	srv.AwaitRefused(t, client)
}

// TestFirstFailureIsUnavailable: once the server is down, the very first
// failed call (a refused connection: the command was not sent) wraps
// ErrUnavailable and still names the network error, as do the calls the
// open breaker refuses afterwards.
func TestFirstFailureIsUnavailable(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		client := srv.Client(t)
		store := newStoreOn(t, client, session.Options[cart]{})
		sess, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		killAll(t, srv, client)
		for i, call := range []func() error{
			func() error { _, err := store.Get(background, sess.Token); return err },
			func() error { return store.Save(background, sess) },
			func() error { _, err := store.Create(background, "", cart{}); return err },
			func() error { return store.DestroyAll(background, "alice") },
		} {
			err := call()
			if !errors.Is(err, session.ErrUnavailable) {
				t.Fatalf("call %d after the kill: %v, want an error wrapping ErrUnavailable", i, err)
			}
			if i == 0 && !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("first failure %q: want the network error named", err)
			}
		}
	})
}

// TestUnknownOutcomeIsNotUnavailable: a call whose command was sent but not
// answered in time (the server frozen) may have been applied, so its error
// does not match ErrUnavailable.
func TestUnknownOutcomeIsNotUnavailable(t *testing.T) {
	srv := redistest.NewStandalone(t)
	store := newStore(t, srv, session.Options[cart]{DisableLocal: true})
	sess, err := store.Create(background, "alice", cart{})
	if err != nil {
		t.Fatal(err)
	}
	// Frozen until the test ends, however slowly it runs: a timed CLIENT
	// PAUSE that ran out before Save was sent would let it succeed.
	srv.Masters()[0].Freeze(t)
	ctx, cancel := context.WithTimeout(background, 50*time.Millisecond)
	defer cancel()
	err = store.Save(ctx, sess)
	if err == nil || errors.Is(err, session.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Save against a paused server: %v; want the deadline, not ErrUnavailable", err)
	}
}

// outageApp is a site whose pages use the session in every way, and one
// that does not: each answers 503 when the session call is refused with
// ErrUnavailable, 500 for any other error.
func outageApp(store *session.Store[cart]) http.Handler {
	fail := func(w http.ResponseWriter, err error) {
		if errors.Is(err, session.ErrUnavailable) {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/public", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "public")
	})
	mux.HandleFunc("/view", func(w http.ResponseWriter, r *http.Request) {
		sess := store.Current(r.Context())
		switch err := store.LoadError(r.Context()); {
		case sess != nil:
			io.WriteString(w, "user "+sess.UserID)
		case errors.Is(err, session.ErrUnavailable):
			io.WriteString(w, "anonymous, session unavailable")
		default:
			io.WriteString(w, "anonymous")
		}
	})
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		if err := store.Put(r.Context(), cart{Items: []string{"x"}}); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := store.Start(r.Context(), "alice", cart{}); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := store.End(r.Context()); err != nil {
			fail(w, err)
		}
	})
	return store.Middleware(mux)
}

// TestMiddlewareRedisDown serves requests, with and without a session
// cookie, while every Redis node is killed, under each FailureMode: what
// docs/session.md's "When Redis is down" table states. Pages that do not
// use the session answer 200 in both modes; the others follow the mode.
// The cookie is never cleared: the session still exists.
func TestMiddlewareRedisDown(t *testing.T) {
	type want struct {
		status int
		body   string // its start
	}
	rows := []struct {
		path            string
		cookie          bool
		anonymous, fail want // ServeAnonymous, FailRequest
	}{
		{"/view", true, want{200, "anonymous, session unavailable"}, want{500, "Internal Server Error"}}, // first: the first failure
		{"/public", true, want{200, "public"}, want{200, "public"}},
		{"/put", true, want{503, "try again later"}, want{500, "Internal Server Error"}},
		{"/login", true, want{503, "try again later"}, want{500, "Internal Server Error"}},
		{"/logout", true, want{503, "try again later"}, want{500, "Internal Server Error"}},
		{"/public", false, want{200, "public"}, want{200, "public"}},
		{"/view", false, want{200, "anonymous"}, want{200, "anonymous"}},
		{"/login", false, want{500, "Internal Server Error"}, want{500, "Internal Server Error"}}, // the store at the header fails
	}
	for _, mode := range []session.FailureMode{session.ServeAnonymous, session.FailRequest} {
		t.Run(fmt.Sprintf("mode=%d", mode), func(t *testing.T) {
			redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
				client := srv.Client(t)
				var handled []error
				store := newStoreOn(t, client, session.Options[cart]{FailureMode: mode, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					handled = append(handled, err)
					http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
				}})
				sess, err := store.Create(background, "alice", cart{}) // a create keeps nothing: the reads below need Redis
				if err != nil {
					t.Fatal(err)
				}
				killAll(t, srv, client)
				for _, row := range rows {
					cookie := ""
					if row.cookie {
						cookie = sessionCookieName + "=" + sess.Token
					}
					w := row.anonymous
					if mode == session.FailRequest {
						w = row.fail
					}
					resp := do(t, outageApp(store), background, row.path, cookie)
					if got := body(t, resp); resp.StatusCode != w.status || !strings.HasPrefix(got, w.body) {
						t.Errorf("%s (cookie %v): %d %q, want %d %q", row.path, row.cookie, resp.StatusCode, got, w.status, w.body)
					}
					if c := sessionCookie(t, resp); c != nil {
						t.Errorf("%s (cookie %v): Set-Cookie %q while Redis is down", row.path, row.cookie, resp.Header.Get("Set-Cookie"))
					}
					if row.cookie && row.path != "/public" && resp.Header.Get("Cache-Control") != "private, no-store" && resp.StatusCode == http.StatusOK {
						t.Errorf("%s: Cache-Control %q, want a response served without its session never stored", row.path, resp.Header.Get("Cache-Control"))
					}
				}
				switch {
				case mode == session.ServeAnonymous && len(handled) != 1:
					t.Errorf("ErrorHandler got %v: ServeAnonymous calls it only for the failed store of the login", handled)
				case mode == session.FailRequest && len(handled) != 5:
					t.Errorf("ErrorHandler got %v: want the four lookups and the login's store", handled)
				case !errors.Is(handled[0], session.ErrUnavailable) || !errors.Is(handled[len(handled)-1], session.ErrUnavailable):
					t.Errorf("ErrorHandler got %v: want every failure, the first one included, wrapping ErrUnavailable", handled)
				}
			})
		})
	}
}

// TestClosed: after the Store's Close or its Client's, every call returns
// an error wrapping ErrClosed (never ErrUnavailable: a closed Store is a
// programming error, not an outage), a session kept in memory included,
// and Middleware hands ErrClosed to ErrorHandler whatever the FailureMode.
func TestClosed(t *testing.T) {
	closetest.Run(t, session.ErrClosed, func(t *testing.T, c *typecache.Client) closetest.Instance {
		var handled error
		opts := session.Options[cart]{Prefix: redistest.Name(t), ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			handled = err
			http.Error(w, "closed", http.StatusInternalServerError)
		}}
		store, err := session.New(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		sess, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Get(background, sess.Token); err != nil { // kept in memory
			t.Fatal(err)
		}
		return closetest.Instance{
			Close: store.Close,
			Calls: closetest.Calls{
				"Create":           func(ctx context.Context) error { _, err := store.Create(ctx, "bob", cart{}); return err },
				"Create anonymous": func(ctx context.Context) error { _, err := store.Create(ctx, "", cart{}); return err },
				"Get":              func(ctx context.Context) error { _, err := store.Get(ctx, sess.Token); return err },
				"Save":             func(ctx context.Context) error { return store.Save(ctx, sess) },
				"Regenerate":       func(ctx context.Context) error { _, err := store.Regenerate(ctx, sess); return err },
				"Destroy":          func(ctx context.Context) error { return store.Destroy(ctx, sess.Token) },
				"DestroyAll":       func(ctx context.Context) error { return store.DestroyAll(ctx, "alice") },
				"Revoke":           func(ctx context.Context) error { return store.Revoke(ctx, "alice", sess.ID()) },
				"List":             func(ctx context.Context) error { _, err := store.List(ctx, "alice"); return err },
				"Middleware": func(ctx context.Context) error {
					handled = nil
					resp := do(t, outageApp(store), ctx, "/public", "")
					if resp.StatusCode != http.StatusInternalServerError {
						return fmt.Errorf("status %d", resp.StatusCode)
					}
					return handled
				},
			},
			ClientOnly: closetest.Calls{
				"New": func(context.Context) error { _, err := session.New(c, opts); return err },
			},
		}
	})
}
