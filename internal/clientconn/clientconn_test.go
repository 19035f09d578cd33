package clientconn_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var (
	errClosed      = clientconn.Closed("pkg")
	errUnavailable = clientconn.Unavailable("pkg")
)

// TestGuardClosed: Guard refuses at once once the client is closed, and a
// call that the client's Close overtook fails with the package's ErrClosed
// too, never with ErrUnavailable.
func TestGuardClosed(t *testing.T) {
	for _, tt := range []struct {
		name   string
		before bool // Close before Guard, else during the call
	}{{"closed before", true}, {"closed during the call", false}} {
		t.Run(tt.name, func(t *testing.T) {
			c := redistest.Standalone(t).Client(t)
			conn := clientconn.Of(c)
			if tt.before {
				c.Close()
			}
			called := false
			_, err := clientconn.Guard(context.Background(), conn, "k", errUnavailable, errClosed, func() (rueidis.RedisMessage, error) {
				called = true
				c.Close()
				return c.Redis().Do(context.Background(), c.Redis().B().Get().Key("k").Build()).ToMessage()
			})
			if called == tt.before {
				t.Errorf("call made: %v", called)
			}
			if !errors.Is(err, errClosed) || !errors.Is(err, typecache.ErrClosed) || errors.Is(err, typecache.ErrUnavailable) {
				t.Fatalf("Guard = %v; want an error matching %v and %v only", err, errClosed, typecache.ErrClosed)
			}
			if _, err := clientconn.Live(c, errClosed); !errors.Is(err, errClosed) {
				t.Fatalf("Live on a closed client = %v", err)
			}
		})
	}
}
