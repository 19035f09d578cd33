package otel_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
)

// TestRateLimitInstruments drives two limiters (one FailOpen, one
// FailClosed) through every outcome and an error, and checks
// typecache.ratelimit.decisions and typecache.ratelimit.errors point by
// point.
func TestRateLimitInstruments(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		m, reader := newMetrics(t)
		client := srv.Client(t)
		open, closed := redistest.Name(t), redistest.Name(t)
		observer := m.RateLimitObserver(nil) // one for both: each New names it
		limiter := func(name string, mode ratelimit.FailureMode) *ratelimit.Limiter {
			l, err := ratelimit.New(client, ratelimit.Options{
				Limit: 2, Period: time.Hour, Prefix: name, FailureMode: mode, LocalDenyCache: true,
				Observer: observer,
			})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		failOpen, failClosed := limiter(open, ratelimit.FailOpen), limiter(closed, ratelimit.FailClosed)
		// A deadline already past: Redis is not reached in time, so the
		// failure mode decides.
		expired, cancel := context.WithDeadline(background, time.Now().Add(-time.Second))
		defer cancel()

		for _, tt := range []struct {
			limiter *ratelimit.Limiter
			ctx     context.Context
			key     string
			source  ratelimit.Source
		}{
			{failOpen, background, "k", ratelimit.FromRedis},          // allowed
			{failOpen, background, "k", ratelimit.FromRedis},          // allowed
			{failOpen, background, "k", ratelimit.FromRedis},          // denied
			{failOpen, background, "k", ratelimit.FromLocalDenyCache}, // denied_locally
			{failOpen, expired, "other", ratelimit.FromFailOpen},      // fail_open
			{failClosed, expired, "other", ratelimit.FromFailClosed},  // fail_closed
		} {
			res, err := tt.limiter.Allow(tt.ctx, tt.key)
			if err != nil || res.Source != tt.source {
				t.Fatalf("Allow(%s) = %+v, %v; want a decision from %v", tt.key, res, err, tt.source)
			}
		}
		// Something else wrote the key: Redis replies WRONGTYPE.
		space, err := keyspace.New(keyspace.RateLimit, open)
		if err != nil {
			t.Fatal(err)
		}
		raw := srv.Raw(t)
		if err := raw.Do(background, raw.B().Lpush().Key(space.Key("gcra", "list")).Element("x").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if _, err := failOpen.Allow(background, "list"); err == nil {
			t.Fatal("Allow of a key holding a list succeeded")
		}

		s := collect(t, reader)
		outcome := func(name, o string) string {
			return set(attribute.String("typecache.ratelimit.limiter", name), attribute.String("typecache.ratelimit.outcome", o))
		}
		s.expectSums(t, map[string]map[string]int64{
			"typecache.ratelimit.decisions": {
				outcome(open, "allowed"): 2, outcome(open, "denied"): 1, outcome(open, "denied_locally"): 1,
				outcome(open, "fail_open"): 1, outcome(closed, "fail_closed"): 1,
			},
			"typecache.ratelimit.errors": {set(attribute.String("typecache.ratelimit.limiter", open)): 1},
		})
	})
}
