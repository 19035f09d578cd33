package leaderboard_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
	"github.com/typecache/typecache/ratelimit"
)

// TestBreakerSharedWithOtherPackages: the breakers belong to the client, so
// once another package on it (here a limiter) has found the board's node
// down, every call fails at once with ErrUnavailable, in one sentence, and
// works again once the client's background probe finds the node back.
func TestBreakerSharedWithOtherPackages(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		client := srv.Client(t, typecache.WithBreaker(5, 20*time.Millisecond))
		board := newBoard(t, client, leaderboard.Options{})
		set, _ := leaderboard.Keys(board)
		var dead *redistest.Node // the board's node; the others answer MOVED
		for _, m := range srv.Masters() {
			if _, err := m.Do("EXISTS", set); err == nil {
				dead = m
			}
		}
		limiter, err := ratelimit.New(client, ratelimit.Options{Prefix: redistest.Name(t), Limit: 1, Period: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		calls := []struct {
			name string
			call func() error
			want string // the error's text with the breaker open
		}{
			{"Add", func() error { return board.Add(background, "ada", 1) }, `leaderboard: add "ada"`},
			{"AddIfBetter", func() error { _, err := board.AddIfBetter(background, "ada", 2); return err }, `leaderboard: add "ada"`},
			{"Incr", func() error { _, err := board.Incr(background, "ada", 1); return err }, `leaderboard: incr "ada"`},
			{"Score", func() error { _, err := board.Score(background, "ada"); return err }, `leaderboard: "ada"`},
			{"Rank", func() error { _, err := board.Rank(background, "ada"); return err }, `leaderboard: "ada"`},
			{"Around", func() error { _, err := board.Around(background, "ada", 2); return err }, `leaderboard: "ada"`},
			{"Top", func() error { _, err := board.Top(background, 10); return err }, `leaderboard: top 10`},
			{"Page", func() error { _, err := board.Page(background, 0, 10); return err }, `leaderboard: page 0+10`},
			{"Len", func() error { _, err := board.Len(background); return err }, `leaderboard: len`},
			{"Remove", func() error { return board.Remove(background, "absent") }, `leaderboard: remove`},
		}

		dead.Kill()
		redistest.AwaitBreakerOpen(t, client, set, func() {
			for i := range 64 { // some of them on the dead node
				limiter.Allow(background, "k"+strconv.Itoa(i))
			}
		})
		for _, tc := range calls {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				if want := tc.want + ": redis unavailable (circuit open)"; !errors.Is(err, leaderboard.ErrUnavailable) || err.Error() != want {
					t.Fatalf("with the board's breaker open: %v; want %q wrapping ErrUnavailable", err, want)
				}
			})
		}

		if err := dead.Start(); err != nil {
			t.Fatal(err)
		}
		for _, tc := range calls { // Add first: the node came back empty
			t.Run(tc.name+"/after-restart", func(t *testing.T) {
				redistest.Eventually(t, 10*time.Second, tc.call)
			})
		}
	})
}
