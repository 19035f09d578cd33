package typecache_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/leaderboard"
	"github.com/typecache/typecache/lock"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// TestEveryUnavailableMatchesTheRoot: each package's ErrUnavailable, and
// the error of a call its breaker refused (as the packages wrap it), match
// typecache.ErrUnavailable, and keep their own message.
func TestEveryUnavailableMatchesTheRoot(t *testing.T) {
	for pkg, sentinel := range map[string]error{
		"cache": cache.ErrUnavailable, "counter": counter.ErrUnavailable, "leaderboard": leaderboard.ErrUnavailable,
		"lock": lock.ErrUnavailable, "ratelimit": ratelimit.ErrUnavailable, "session": session.ErrUnavailable,
	} {
		if want := pkg + ": redis unavailable (circuit open)"; sentinel.Error() != want {
			t.Errorf("%s.ErrUnavailable reads %q, want %q", pkg, sentinel, want)
		}
		refused := fmt.Errorf("%s: get %q: %w", pkg, "k", rediscmd.CircuitOpen(sentinel))
		for _, err := range []error{sentinel, refused} {
			if !errors.Is(err, typecache.ErrUnavailable) || !errors.Is(err, sentinel) {
				t.Errorf("%v: does not match both typecache.ErrUnavailable and %s.ErrUnavailable", err, pkg)
			}
		}
	}
}
