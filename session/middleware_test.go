package session_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// app is a small site on a session store: /login starts a session,
// /add puts an item in the cart, /view only reads, /promote renews the
// token, /logout ends the session.
func app(store *session.Store[cart]) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := store.Start(r.Context(), r.FormValue("user"), cart{}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/add", func(w http.ResponseWriter, r *http.Request) {
		sess := store.Current(r.Context())
		if sess == nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		data := sess.Data
		data.Items = append(data.Items, r.FormValue("item"))
		if err := store.Put(r.Context(), data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, strings.Join(data.Items, ","))
	})
	mux.HandleFunc("/view", func(w http.ResponseWriter, r *http.Request) {
		if sess := store.Current(r.Context()); sess != nil {
			io.WriteString(w, sess.UserID+":"+strings.Join(sess.Data.Items, ","))
		}
	})
	mux.HandleFunc("/promote", func(w http.ResponseWriter, r *http.Request) {
		sess := store.Current(r.Context())
		if sess == nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		data := sess.Data
		data.Admin = true
		if err := store.Put(r.Context(), data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if _, err := store.Renew(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := store.End(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		store.Put(r.Context(), cart{Items: []string{"streamed"}})
		w.(http.Flusher).Flush()
		io.WriteString(w, "chunk")
	})
	return store.Middleware(mux)
}

// sessionCookieName is the default cookie's name.
const sessionCookieName = "__Host-session"

// do serves one request with the given cookie header and returns the
// response.
func do(t *testing.T, h http.Handler, ctx context.Context, target, cookie string) *http.Response {
	t.Helper()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sessionCookie returns the one Set-Cookie of resp, or nil when there is
// none.
func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	switch cookies := resp.Cookies(); len(cookies) {
	case 0:
		return nil
	case 1:
		return cookies[0]
	default:
		t.Fatalf("%d Set-Cookie headers: %v", len(cookies), resp.Header["Set-Cookie"])
		return nil
	}
}

func TestMiddlewareLifecycle(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store := newStore(t, srv, session.Options[cart]{})
		h := app(store)

		resp := do(t, h, background, "/view", "")
		if c := sessionCookie(t, resp); c != nil || body(t, resp) != "" {
			t.Fatalf("no cookie: got Set-Cookie %v", c)
		}

		resp = do(t, h, background, "/login?user=alice", "")
		login := sessionCookie(t, resp)
		if login == nil {
			t.Fatal("login set no cookie")
		}
		want := "__Host-session=" + login.Value + "; Path=/; HttpOnly; Secure; SameSite=Lax"
		if got := resp.Header.Get("Set-Cookie"); got != want {
			t.Errorf("Set-Cookie = %q, want %q (no Max-Age, no Expires, no Domain)", got, want)
		}
		if resp.Header.Get("Vary") != "Cookie" || resp.Header.Get("Cache-Control") != "private, no-store" {
			t.Errorf("Vary %q, Cache-Control %q: a response that sets the cookie must not be stored", resp.Header.Get("Vary"), resp.Header.Get("Cache-Control"))
		}
		cookie := sessionCookieName + "=" + login.Value

		// Modified-only saves: a read leaves the record's version alone, a
		// Put bumps it.
		version := func() int64 {
			s, err := store.Get(background, login.Value)
			if err != nil {
				t.Fatal(err)
			}
			return session.Version(s)
		}
		v0 := version()
		resp = do(t, h, background, "/view", cookie)
		if got := body(t, resp); got != "alice:" || sessionCookie(t, resp) != nil || version() != v0 {
			t.Errorf("/view: body %q, cookie %v, version %d→%d; want alice:, no cookie, no save", got, sessionCookie(t, resp), v0, version())
		}
		resp = do(t, h, background, "/add?item=apple", cookie)
		if got := body(t, resp); got != "apple" || sessionCookie(t, resp) != nil || version() != v0+1 {
			t.Errorf("/add: body %q, version %d→%d; want apple and one save, no new cookie", got, v0, version())
		}

		resp = do(t, h, background, "/promote", cookie)
		promoted := sessionCookie(t, resp)
		if resp.StatusCode != http.StatusOK || promoted == nil || promoted.Value == login.Value {
			t.Fatalf("/promote: status %d cookie %v; want a new token", resp.StatusCode, promoted)
		}
		if _, err := store.Get(background, login.Value); err != session.ErrNotFound {
			t.Errorf("pre-promotion token: %v, want ErrNotFound", err)
		}
		renewed, err := store.Get(background, promoted.Value)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(cart{Items: []string{"apple"}, Admin: true}, renewed.Data); diff != "" {
			t.Errorf("renewed data (-want +got):\n%s", diff)
		}

		cookie = sessionCookieName + "=" + promoted.Value
		resp = do(t, h, background, "/logout", cookie)
		cleared := sessionCookie(t, resp)
		if cleared == nil || cleared.Value != "" || cleared.MaxAge >= 0 {
			t.Fatalf("/logout Set-Cookie = %q, want the cookie cleared", resp.Header.Get("Set-Cookie"))
		}
		if _, err := store.Get(background, promoted.Value); err != session.ErrNotFound {
			t.Errorf("token after logout: %v, want ErrNotFound", err)
		}
		resp = do(t, h, background, "/view", cookie)
		if got := body(t, resp); got != "" || sessionCookie(t, resp).MaxAge >= 0 {
			t.Errorf("/view with a logged-out cookie: body %q; want no session and the cookie cleared", got)
		}
	})
}

func TestMiddlewareLoginReplacesPlantedSession(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store := newStore(t, srv, session.Options[cart]{})
		planted, err := store.Create(background, "", cart{})
		if err != nil {
			t.Fatal(err)
		}
		resp := do(t, app(store), background, "/login?user=victim", sessionCookieName+"="+planted.Token)
		if c := sessionCookie(t, resp); c == nil || c.Value == planted.Token {
			t.Fatalf("login kept the planted token: %v", c)
		}
		if _, err := store.Get(background, planted.Token); err != session.ErrNotFound {
			t.Errorf("planted token after login: %v, want ErrNotFound", err)
		}
	})
}

// Malformed cookies are no session: the handler runs, the cookie is
// cleared, and Redis is never asked (the canceled context would make any
// Redis call fail with a 500).
func TestMiddlewareMalformedCookie(t *testing.T) {
	store := newStore(t, redistest.Standalone(t), session.Options[cart]{})
	h := app(store)
	ctx, cancel := context.WithCancel(background)
	cancel()
	for _, value := range []string{"", "abc", strings.Repeat("A", 66), strings.Repeat("%", 66), wellFormed[23:]} {
		cookie := sessionCookieName + "=" + value
		resp := do(t, h, ctx, "/view", cookie)
		if resp.StatusCode != http.StatusOK || body(t, resp) != "" {
			t.Errorf("cookie %q: status %d; want 200 without a session", cookie, resp.StatusCode)
		}
	}
	// A well-formed token does reach Redis, which fails under the canceled
	// context: the request goes on without a session (ServeAnonymous), or
	// the default ErrorHandler answers 500 (FailRequest).
	if resp := do(t, h, ctx, "/view", sessionCookieName+"="+wellFormed); resp.StatusCode != http.StatusOK || body(t, resp) != "" || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Errorf("Redis failure on load, ServeAnonymous: status %d, Cache-Control %q; want 200 without a session, not stored", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	failing := app(newStore(t, redistest.Standalone(t), session.Options[cart]{FailureMode: session.FailRequest}))
	if resp := do(t, failing, ctx, "/view", sessionCookieName+"="+wellFormed); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("Redis failure on load, FailRequest: status %d, want 500", resp.StatusCode)
	}
}

func TestMiddlewareCookieOptions(t *testing.T) {
	srv := redistest.Standalone(t)
	for _, c := range []struct {
		name   string
		cookie session.CookieOptions
		want   func(c *http.Cookie) bool
	}{
		{"host prefix", session.CookieOptions{HostPrefix: true}, func(c *http.Cookie) bool {
			return c.Name == "__Host-session" && c.Secure && c.Path == "/" && c.Domain == ""
		}},
		{"persistent", session.CookieOptions{Persistent: true}, func(c *http.Cookie) bool {
			return c.MaxAge > int((8*time.Hour-time.Minute).Seconds()) && c.MaxAge <= int((8*time.Hour).Seconds()) && !c.Expires.IsZero()
		}},
		{"strict, insecure, scoped", session.CookieOptions{Name: "sid", SameSite: http.SameSiteStrictMode, Insecure: true, Path: "/app", Domain: "example.com"}, func(c *http.Cookie) bool {
			return c.Name == "sid" && c.SameSite == http.SameSiteStrictMode && !c.Secure && c.HttpOnly && c.Path == "/app" && c.Domain == "example.com"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := newStore(t, srv, session.Options[cart]{Cookie: c.cookie})
			resp := do(t, app(store), background, "/login?user=alice", "")
			if got := sessionCookie(t, resp); got == nil || !c.want(got) {
				t.Errorf("Set-Cookie = %q", resp.Header.Get("Set-Cookie"))
			}
		})
	}
}

func TestMiddlewareSaveConflict(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		var handled error
		store := newStore(t, srv, session.Options[cart]{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			handled = err
			http.Error(w, "try again", http.StatusConflict)
		}})
		sess, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		var writeErr error
		h := store.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			store.Put(r.Context(), cart{Items: []string{"mine"}})
			// Another request saves the same session meanwhile.
			other, err := store.Get(background, sess.Token)
			if err != nil {
				t.Error(err)
				return
			}
			other.Data.Items = []string{"theirs"}
			if err := store.Save(background, other); err != nil {
				t.Error(err)
			}
			_, writeErr = io.WriteString(w, "ok")
		}))
		resp := do(t, h, background, "/", sessionCookieName+"="+sess.Token)
		if resp.StatusCode != http.StatusConflict || !errors.Is(handled, session.ErrConflict) || !errors.Is(writeErr, session.ErrConflict) {
			t.Errorf("status %d, ErrorHandler got %v, handler's Write got %v; want 409 and ErrConflict twice", resp.StatusCode, handled, writeErr)
		}
		if got := body(t, resp); got != "try again\n" {
			t.Errorf("body %q: the handler's output must not follow the error response", got)
		}
		stored, err := store.Get(background, sess.Token)
		if err != nil || stored.Data.Items[0] != "theirs" {
			t.Errorf("stored data %v, %v: the conflicting save must write nothing", stored, err)
		}
	})
}

func TestMiddlewareFlushCommitsFirst(t *testing.T) {
	store := newStore(t, redistest.Standalone(t), session.Options[cart]{})
	sess, err := store.Create(background, "alice", cart{})
	if err != nil {
		t.Fatal(err)
	}
	resp := do(t, app(store), background, "/stream", sessionCookieName+"="+sess.Token)
	if got := body(t, resp); got != "chunk" {
		t.Errorf("body %q", got)
	}
	stored, err := store.Get(background, sess.Token)
	if err != nil || len(stored.Data.Items) != 1 {
		t.Errorf("after a flushed response: %v, %v; want the Put saved", stored, err)
	}
}

func TestRequestHelpersNeedMiddleware(t *testing.T) {
	store := newStore(t, redistest.Standalone(t), session.Options[cart]{})
	if store.Current(background) != nil {
		t.Error("Current outside Middleware returned a session")
	}
	if err := store.Put(background, cart{}); err != session.ErrNoMiddleware {
		t.Errorf("Put outside Middleware = %v, want ErrNoMiddleware", err)
	}
	if _, err := store.Start(background, "alice", cart{}); err != session.ErrNoMiddleware {
		t.Errorf("Start outside Middleware = %v, want ErrNoMiddleware", err)
	}
}
