package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/closetest"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
)

// TestClosed: once the Client is closed, the Limiter neither admits (the
// default FailOpen does not apply) nor denies, not even from its local
// deny cache: every call fails with ErrClosed, and the middleware hands it
// to its ErrorHandler.
func TestClosed(t *testing.T) {
	closetest.Run(t, ratelimit.ErrClosed, func(t *testing.T, c *typecache.Client) closetest.Instance {
		opts := ratelimit.Options{
			Algorithm: ratelimit.FixedWindow, Limit: 1, Period: time.Hour, Prefix: redistest.Name(t), LocalDenyCache: true,
		}
		l, err := ratelimit.New(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second is denied, and remembered in the process
			if _, err := l.Allow(context.Background(), "denied"); err != nil {
				t.Fatal(err)
			}
		}
		return closetest.Instance{
			ClientOnly: closetest.Calls{
				"Allow":         func(ctx context.Context) error { _, err := l.Allow(ctx, "free"); return err },
				"AllowN":        func(ctx context.Context) error { _, err := l.AllowN(ctx, "free", 1); return err },
				"Allow(denied)": func(ctx context.Context) error { _, err := l.Allow(ctx, "denied"); return err },
				"Reset":         func(ctx context.Context) error { return l.Reset(ctx, "denied") },
				"Middleware":    func(context.Context) error { return middlewareError(t, l) },
				"New":           func(context.Context) error { _, err := ratelimit.New(c, opts); return err },
			},
		}
	})
}

// middlewareError serves one request through l's Middleware and returns
// the error its ErrorHandler got (nil when the request reached the handler
// or was denied).
func middlewareError(t *testing.T, l *ratelimit.Limiter) error {
	var got error
	mw, err := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{
		Key: func(*http.Request) string { return "free" },
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusInternalServerError)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mw(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	return got
}
