package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// FuzzMiddlewareCookie serves requests whose Cookie header is arbitrary,
// under a canceled context so that any Redis call fails (LoadError then
// says so). It checks that nothing panics, that only a well-formed token
// reaches Redis, and that every request is served, as "no session".
func FuzzMiddlewareCookie(f *testing.F) {
	for _, seed := range []string{
		"", "__Host-session=", "__Host-session=x", "__Host-session=" + wellFormed, "__Host-session=" + wellFormed[:65] + "B",
		`__Host-session="` + strings.Repeat("-", 22) + "." + strings.Repeat("-", 43) + `"`, "__Host-session=a; __Host-session=b",
		"__Host-session=\x00\xff", "a=b; __Host-session", "session=" + wellFormed, "__Host-session=" + strings.Repeat("_", 66),
		";;;==;", "__Host-session=" + strings.Repeat("%41", 66),
	} {
		f.Add(seed)
	}
	store := newStore(f, redistest.Standalone(f), session.Options[cart]{})
	f.Fuzz(func(t *testing.T, header string) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var handlerSaw *session.Session[cart]
		var loadErr error
		ran := false
		h := store.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran, handlerSaw, loadErr = true, store.Current(r.Context()), store.LoadError(r.Context())
		}))
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		req.Header.Set("Cookie", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		wellFormed := false
		if c, err := req.Cookie(sessionCookieName); err == nil {
			wellFormed = session.WellFormed(c.Value)
		}
		if rec.Code != http.StatusOK || !ran || handlerSaw != nil {
			t.Fatalf("Cookie %q: status %d, handler ran %v with session %v; want 200 with no session", header, rec.Code, ran, handlerSaw)
		}
		if reached := loadErr != nil; reached != wellFormed {
			t.Fatalf("Cookie %q: well-formed %v, but Redis reached %v (LoadError %v): only a well-formed token may reach Redis", header, wellFormed, reached, loadErr)
		}
	})
}
