package session_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

var benchData = cart{Items: []string{"apple", "pear", "plum"}}

func BenchmarkStore(b *testing.B) {
	store := newStore(b, redistest.Standalone(b), session.Options[cart]{})
	sess, err := store.Create(background, "bench", benchData)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := store.Get(background, sess.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("save", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := store.Save(background, sess); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create-destroy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := store.Create(background, "bench", benchData)
			if err != nil {
				b.Fatal(err)
			}
			if err := store.Destroy(background, s.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create-anonymous", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := store.Create(background, "", benchData); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := store.Get(background, sess.Token); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkMiddleware measures a request through Middleware: "bare" is the
// handler alone, for the baseline; "no-cookie" has no session; "read"
// loads a session (one round trip); "modify" loads, Puts and saves it.
func BenchmarkMiddleware(b *testing.B) {
	store := newStore(b, redistest.Standalone(b), session.Options[cart]{})
	sess, err := store.Create(background, "bench", benchData)
	if err != nil {
		b.Fatal(err)
	}
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := store.Current(r.Context()); s != nil {
			w.Write([]byte(s.UserID))
		}
	})
	modify := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		store.Put(r.Context(), store.Current(r.Context()).Data)
		w.Write([]byte("ok"))
	})
	for _, c := range []struct {
		name    string
		handler http.Handler
		cookie  string
	}{
		{"bare", read, ""},
		{"no-cookie", store.Middleware(read), ""},
		{"read", store.Middleware(read), sessionCookieName + "=" + sess.Token},
		{"modify", store.Middleware(modify), sessionCookieName + "=" + sess.Token},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if c.cookie != "" {
				req.Header.Set("Cookie", c.cookie)
			}
			for b.Loop() {
				rec := httptest.NewRecorder()
				c.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
