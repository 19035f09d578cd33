package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestSmoke runs the smoke walk-through (login, cached reads, 429, a second
// login retiring the first token, logout) against the handler in process,
// on a standalone server and on a cluster.
func TestSmoke(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		a, err := newApp(srv.Client(t), redistest.Name(t)+".", &profileDB{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		web := httptest.NewServer(a.Handler())
		defer web.Close()
		var out strings.Builder
		if err := smoke(web.URL, &out); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	})
}

// TestRun runs the program as `go run . -smoke` does on a machine without
// REDIS_URL: against a throwaway redis-server it starts and stops itself.
func TestRun(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	if err := run("", true); err != nil {
		t.Fatal(err)
	}
}
