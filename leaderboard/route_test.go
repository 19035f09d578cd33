package leaderboard_test

import (
	"context"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
)

// TestReadsTakeTheirConnection: a lone read whose reply nothing keeps goes
// to a direct connection, read on its caller's goroutine, not to the
// client's tracking connection, whose reader and writer goroutines would
// each be woken; a Top that fills the top cache is a tracked read, on the
// tracking connection (in CLIENT LIST, whether the connection that last ran
// the read's command tracks).
func TestReadsTakeTheirConnection(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		client := srv.Client(t)
		plain := newBoard(t, client, leaderboard.Options{DisableTopCache: true})
		cached := newBoard(t, client, leaderboard.Options{})
		for _, b := range []*leaderboard.Board{plain, cached} {
			add(t, b, "ada", 3)
		}
		for _, tc := range []struct {
			name, cmd string
			tracked   bool
			call      func(context.Context) error
		}{
			{"Page", "zrange", false, func(ctx context.Context) error { _, err := plain.Page(ctx, 0, 10); return err }},
			{"Top without its cache", "zrange", false, func(ctx context.Context) error { _, err := plain.Top(ctx, 10); return err }},
			{"Len", "zcard", false, func(ctx context.Context) error { _, err := plain.Len(ctx); return err }},
			{"Top filling its cache", "exec", true, func(ctx context.Context) error { _, err := cached.Top(ctx, 10); return err }},
		} {
			if err := tc.call(background); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			srv.CheckLastRan(t, tc.name, tc.cmd, tc.tracked)
		}
	})
}
