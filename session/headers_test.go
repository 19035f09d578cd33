package session_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// TestMiddlewareCacheControl: the middleware merges its directives into
// the handler's Cache-Control instead of replacing it, so a login page
// marked "private, no-store" stays so; responses that set or clear the
// cookie are never storable; responses of a request with a session default
// to private; a handler that never asks for the session gets its headers
// untouched.
func TestMiddlewareCacheControl(t *testing.T) {
	srv := redistest.Standalone(t)
	store := newStore(t, srv, session.Options[cart]{})
	live, err := store.Create(background, "alice", cart{})
	if err != nil {
		t.Fatal(err)
	}
	doomed, err := store.Create(background, "alice", cart{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		action       string   // what the handler does with the session
		cookie       string   // the request's cookie value
		handlerCC    []string // Cache-Control values the handler sets
		handlerVary  string
		wantCC, vary string
	}{
		{"login, handler private no-store", "start", "", []string{"private, no-store"}, "", "private, no-store", "Cookie"},
		{"login, handler nothing", "start", "", nil, "", "private, no-store", "Cookie"},
		{"login, handler public max-age", "start", "", []string{"public, max-age=600"}, "", "max-age=600, private, no-store", "Cookie"},
		{"login, handler two headers", "start", "", []string{"no-cache", `no-cache="Set-Cookie, X"`}, "Accept-Encoding", `no-cache, no-cache="Set-Cookie, X", private, no-store`, "Accept-Encoding, Cookie"},
		{"logout", "end", doomed.Token, nil, "", "private, no-store", "Cookie"},
		{"read, handler nothing", "read", live.Token, nil, "", "private", "Cookie"},
		{"read, handler max-age", "read", live.Token, []string{"max-age=60"}, "Cookie", "max-age=60", "Cookie"},
		{"read, handler vary star", "read", live.Token, nil, "*", "private", "*"},
		{"stale cookie cleared", "read", wellFormed, []string{"max-age=60"}, "", "max-age=60, private, no-store", "Cookie"},
		{"no session", "read", "", []string{"public, max-age=60"}, "", "public, max-age=60", ""},
		{"session never asked for", "", live.Token, []string{"public, max-age=60"}, "", "public, max-age=60", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := store.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for _, v := range tc.handlerCC {
					w.Header().Add("Cache-Control", v)
				}
				if tc.handlerVary != "" {
					w.Header().Set("Vary", tc.handlerVary)
				}
				var err error
				switch tc.action {
				case "read":
					store.Current(r.Context())
				case "start":
					_, err = store.Start(r.Context(), "bob", cart{})
				case "end":
					err = store.End(r.Context())
				}
				if err != nil {
					t.Error(err)
				}
				io.WriteString(w, "ok")
			}))
			cookie := ""
			if tc.cookie != "" {
				cookie = sessionCookieName + "=" + tc.cookie
			}
			resp := do(t, h, background, "/", cookie)
			if got := strings.Join(resp.Header.Values("Cache-Control"), " | "); got != tc.wantCC {
				t.Errorf("Cache-Control = %q, want %q", got, tc.wantCC)
			}
			if got := strings.Join(resp.Header.Values("Vary"), ", "); got != tc.vary {
				t.Errorf("Vary = %q, want %q", got, tc.vary)
			}
		})
	}
}

// TestMiddlewareHostPrefix: the cookie is "__Host-session" wherever the
// options allow it, silently plain where Insecure, a Domain or a Path
// forbid it, and plain on request.
func TestMiddlewareHostPrefix(t *testing.T) {
	srv := redistest.Standalone(t)
	for _, tc := range []struct {
		name   string
		cookie session.CookieOptions
		want   string
	}{
		{"default", session.CookieOptions{}, "__Host-session"},
		{"named", session.CookieOptions{Name: "sid"}, "__Host-sid"},
		{"named with the prefix", session.CookieOptions{Name: "__Host-sid"}, "__Host-sid"},
		{"insecure", session.CookieOptions{Insecure: true}, "session"},
		{"domain", session.CookieOptions{Domain: "example.com"}, "session"},
		{"path", session.CookieOptions{Path: "/app"}, "session"},
		{"opt-out", session.CookieOptions{NoHostPrefix: true}, "session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t, srv, session.Options[cart]{Cookie: tc.cookie})
			resp := do(t, app(store), background, "/login?user=alice", "")
			c := sessionCookie(t, resp)
			if c == nil || c.Name != tc.want {
				t.Fatalf("Set-Cookie = %q, want the name %q", resp.Header.Get("Set-Cookie"), tc.want)
			}
			if strings.HasPrefix(c.Name, "__Host-") && (!c.Secure || c.Path != "/" || c.Domain != "") {
				t.Errorf("a __Host- cookie without Secure, Path=/ and no Domain: %q", resp.Header.Get("Set-Cookie"))
			}
		})
	}
}

// TestMiddlewarePreviousName: during a rename (to the "__Host-" prefix,
// say) a session under the old cookie name keeps working, moves to the new
// name, and the old cookie is expired; an old cookie naming no session is
// expired too.
func TestMiddlewarePreviousName(t *testing.T) {
	srv := redistest.Standalone(t)
	store := newStore(t, srv, session.Options[cart]{Cookie: session.CookieOptions{PreviousName: "session"}})
	sess, err := store.Create(background, "alice", cart{Items: []string{"kept"}})
	if err != nil {
		t.Fatal(err)
	}
	resp := do(t, app(store), background, "/view", "session="+sess.Token)
	if got := body(t, resp); got != "alice:kept" {
		t.Errorf("body %q: the session under the previous name was not read", got)
	}
	set := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		set[c.Name] = c
	}
	if c := set["__Host-session"]; c == nil || c.Value != sess.Token || !c.Secure || !c.HttpOnly {
		t.Errorf("new cookie %v, want the same token under __Host-session", c)
	}
	if c := set["session"]; c == nil || c.MaxAge >= 0 {
		t.Errorf("old cookie %v, want it expired", c)
	}

	// The current name wins over the previous one.
	other, err := store.Create(background, "bob", cart{})
	if err != nil {
		t.Fatal(err)
	}
	resp = do(t, app(store), background, "/view", "session="+sess.Token+"; __Host-session="+other.Token)
	if got := body(t, resp); got != "bob:" || len(resp.Cookies()) != 0 {
		t.Errorf("body %q, cookies %v: want bob's session under the current name, nothing set", got, resp.Cookies())
	}

	resp = do(t, app(store), background, "/view", "session="+wellFormed)
	if c := sessionCookie(t, resp); body(t, resp) != "" || c == nil || c.Name != "session" || c.MaxAge >= 0 {
		t.Errorf("stale old cookie: Set-Cookie %q, want only the old cookie expired", resp.Header.Get("Set-Cookie"))
	}
}

// TestMiddlewareCreateWrittenAtHeader: a session started and filled within
// one request is stored once, with the data of the last Put, when the
// header is written, so a streamed response still carries the cookie; a
// Put, Start or Renew after the header returns ErrHeaderWritten and changes
// nothing.
func TestMiddlewareCreateWrittenAtHeader(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store := newStore(t, srv, session.Options[cart]{})
		var after []error
		var started *session.Session[cart]
		h := store.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var err error
			if started, err = store.Start(r.Context(), "alice", cart{Items: []string{"a"}}); err != nil {
				t.Error(err)
			}
			for _, items := range [][]string{{"a", "b"}, {"a", "b", "c"}} {
				if err := store.Put(r.Context(), cart{Items: items}); err != nil {
					t.Error(err)
				}
			}
			if _, err := store.Get(background, started.Token); err != session.ErrNotFound {
				t.Errorf("Get before the header = %v, want ErrNotFound: nothing is written yet", err)
			}
			w.(http.Flusher).Flush() // header out: the session is written now
			if _, err := store.Get(background, started.Token); err != nil {
				t.Errorf("Get after the header: %v", err)
			}
			_, errStart := store.Start(r.Context(), "mallory", cart{})
			_, errRenew := store.Renew(r.Context())
			after = []error{store.Put(r.Context(), cart{Items: []string{"late"}}), errStart, errRenew}
			io.WriteString(w, "streamed")
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		resp := rec.Result()
		if c := sessionCookie(t, resp); c == nil || c.Value != started.Token {
			t.Fatalf("Set-Cookie %q, want the started session's token", resp.Header.Get("Set-Cookie"))
		}
		for i, err := range after {
			if err != session.ErrHeaderWritten {
				t.Errorf("call %d after the header = %v, want ErrHeaderWritten", i, err)
			}
		}
		got, err := store.Get(background, started.Token)
		if err != nil || strings.Join(got.Data.Items, ",") != "a,b,c" || session.Version(got) != 1 {
			t.Errorf("stored session %+v, %v; want items a,b,c at version 1 (one write)", got, err)
		}
	})
}
