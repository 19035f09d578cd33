package otel_test

import (
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
)

// boardTally holds what a Board reported.
type boardTally struct {
	leaderboard.NoopObserver
	readTally
}

func (b *boardTally) WithName(name string) leaderboard.Observer {
	b.name = name
	return b
}

func (b *boardTally) OnTop(cached bool) { b.read(cached) }

// TestLeaderboardInstruments drives a Board past its MaxSize and through
// Top calls answered by Redis and by its local cache, and checks every
// typecache.leaderboard.* instrument point by point, named by
// leaderboard.New.
func TestLeaderboardInstruments(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		m, reader := newMetrics(t)
		name := redistest.Name(t)
		tally := &boardTally{}
		b, err := leaderboard.New(srv.Client(t), name, leaderboard.Options{MaxSize: 2, TTL: time.Hour, Observer: m.LeaderboardObserver(tally)})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		for i, member := range []string{"a", "b", "c", "d"} { // c and d each trim one member
			if err := b.Add(background, member, float64(i)); err != nil {
				t.Fatal(err)
			}
		}
		redistest.Eventually(t, 5*time.Second, func() error { // from Redis, then from the local cache
			if _, err := b.Top(background, 2); err != nil {
				t.Fatal(err)
			}
			tally.mu.Lock()
			defer tally.mu.Unlock()
			if tally.local == 0 {
				return errors.New("no Top from the local cache")
			}
			return nil
		})

		s := collect(t, reader)
		tally.mu.Lock()
		defer tally.mu.Unlock()
		if tally.name != name {
			t.Errorf("the observer passed on was named %q, want the board's name %q", tally.name, name)
		}
		n := attribute.String("typecache.leaderboard.name", name)
		tier := func(r string) string { return set(n, attribute.String("typecache.leaderboard.tier", r)) }
		s.expectSums(t, map[string]map[string]int64{
			"typecache.leaderboard.top.reads":       {tier("local"): tally.local, tier("remote"): tally.remote},
			"typecache.leaderboard.members.trimmed": {set(n): 2},
		})
	})
}
