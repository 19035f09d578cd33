package counter_test

import (
	"context"
	"testing"
	"time"

	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestLoneCallsLeaveTheTrackingConnection: a lone call whose reply nothing
// keeps goes to a direct connection, read on its caller's goroutine, not to
// the client's tracking connection, whose reader and writer goroutines
// would each be woken (in CLIENT LIST, the connection that last ran the
// call's command does not track).
func TestLoneCallsLeaveTheTrackingConnection(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		client := srv.Client(t)
		ctr := newCounter(t, client, time.Minute)
		win, err := counter.NewWindowed(client, redistest.Name(t), counter.WindowOptions{Window: time.Minute, Keep: 3})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ctr.Add(background, "k", 1); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, cmd string
			call      func(context.Context) error
		}{
			{"Get", "get", func(ctx context.Context) error { _, err := ctr.Get(ctx, "k"); return err }},
			{"TTL", "pttl", func(ctx context.Context) error { _, err := ctr.TTL(ctx, "k"); return err }},
			{"Windowed.Last", "mget", func(ctx context.Context) error { _, err := win.Last(ctx, "k", 3); return err }},
			{"Reset", "del", func(ctx context.Context) error { return ctr.Reset(ctx, "k") }},
		} {
			if err := tc.call(background); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			srv.CheckLastRan(t, tc.name, tc.cmd, false)
		}
	})
}
