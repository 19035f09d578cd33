package typecache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestBreakerOptions: WithBreaker with negative failures turns the breakers
// off; a negative cooldown is refused.
func TestBreakerOptions(t *testing.T) {
	srv := redistest.Standalone(t)
	if b := srv.Client(t, typecache.WithBreaker(-1, 0)).Breaker(); b != nil || b.Open("k") {
		t.Fatalf("Breaker() = %v with breakers off, want nil (which is never open)", b)
	}
	_, err := typecache.NewClient(srv.Option(), typecache.WithBreaker(1, -time.Second))
	if !errors.Is(err, typecache.ErrInvalidOptions) || !strings.Contains(err.Error(), "cooldown") {
		t.Fatalf("NewClient with a negative cooldown: %v, want ErrInvalidOptions naming it", err)
	}
}

// TestReplyPollOptions: WithReplyPoll's window must be within [0,
// a millisecond]; 0 (off) and a millisecond are valid.
func TestReplyPollOptions(t *testing.T) {
	srv := redistest.Standalone(t)
	for _, tc := range []struct {
		window time.Duration
		valid  bool
	}{{0, true}, {typecache.DefaultReplyPoll, true}, {time.Millisecond, true}, {-time.Microsecond, false}, {time.Millisecond + 1, false}} {
		client, err := typecache.NewClient(srv.Option(), typecache.WithReplyPoll(tc.window))
		if err == nil {
			client.Close()
		}
		if valid := err == nil; valid != tc.valid || !tc.valid && (!errors.Is(err, typecache.ErrInvalidOptions) || !strings.Contains(err.Error(), "WithReplyPoll")) {
			t.Errorf("WithReplyPoll(%v): %v, want valid = %v (an invalid one naming it)", tc.window, err, tc.valid)
		}
	}
}

// TestGuardAfterClose: a command guarded after the Client's Close fails
// with an error that matches ErrClosed, and still says what rueidis said.
func TestGuardAfterClose(t *testing.T) {
	for _, options := range [][]typecache.Option{nil, {typecache.WithBreaker(-1, 0)}} {
		client, err := typecache.NewClient(redistest.Standalone(t).Option(), options...)
		if err != nil {
			t.Fatal(err)
		}
		client.Close()
		r := client.Redis()
		_, err = typecache.Guard(context.Background(), client.Breaker(), "k", typecache.ErrUnavailable, func() (int64, error) {
			return r.Do(context.Background(), r.B().Incr().Key("k").Build()).AsInt64()
		})
		if !errors.Is(err, typecache.ErrClosed) || !errors.Is(err, rueidis.ErrClosing) {
			t.Fatalf("Guard after Close (%d options) = %v, want ErrClosed wrapping rueidis.ErrClosing", len(options), err)
		}
	}
}
