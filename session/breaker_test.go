package session_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// TestBreakerSharedWithOtherPackages: the breakers belong to the client, so
// once another package on it (here a limiter) has found the server down, a
// Get that needs Redis fails at once with ErrUnavailable, in one sentence;
// once the client's background probe finds the server back, Redis answers
// again.
func TestBreakerSharedWithOtherPackages(t *testing.T) {
	srv := redistest.NewStandalone(t)
	ctx := context.Background()
	name := redistest.Name(t)
	client := srv.Client(t, typecache.WithBreaker(5, 20*time.Millisecond))
	store := newStoreOn(t, client, session.Options[cart]{Prefix: name})
	remote := newStoreOn(t, client, session.Options[cart]{Prefix: name, DisableLocal: true}) // every Get asks Redis
	sess, err := store.Create(ctx, "ada", cart{Items: []string{"book"}})
	if err != nil {
		t.Fatal(err)
	}
	limiter, err := ratelimit.New(client, ratelimit.Options{Prefix: name, Limit: 1, Period: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	node := srv.Masters()[0]
	node.Kill()
	redistest.AwaitBreakerOpen(t, client, "k", func() { limiter.Allow(ctx, "k") })
	_, err = remote.Get(ctx, sess.Token)
	if !errors.Is(err, session.ErrUnavailable) || !strings.HasSuffix(err.Error(), ": redis unavailable (circuit open)") || !strings.HasPrefix(err.Error(), "session: get ") {
		t.Fatalf("Get through Redis with the breaker open: %v; want one sentence wrapping ErrUnavailable", err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	// The server came back empty: Redis's answer is that the session is gone.
	redistest.Eventually(t, 10*time.Second, func() error {
		if _, err := remote.Get(ctx, sess.Token); !errors.Is(err, session.ErrNotFound) {
			return fmt.Errorf("Get after the restart: %v, want ErrNotFound", err)
		}
		return nil
	})
}
