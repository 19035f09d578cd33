package typecache_test

import (
	"errors"
	"fmt"
	"strings"
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

// TestEveryEmptyKeyErrorHasOneName: every package that takes keys (or
// names, members, user IDs: what its calls are about) names the error for
// an empty one ErrEmptyKey, prefixed with the package.
func TestEveryEmptyKeyErrorHasOneName(t *testing.T) {
	for pkg, sentinel := range map[string]error{
		"cache": cache.ErrEmptyKey, "counter": counter.ErrEmptyKey, "leaderboard": leaderboard.ErrEmptyKey,
		"lock": lock.ErrEmptyKey, "ratelimit": ratelimit.ErrEmptyKey, "session": session.ErrEmptyKey,
	} {
		if !strings.HasPrefix(sentinel.Error(), pkg+": empty ") {
			t.Errorf("%s.ErrEmptyKey reads %q, want %q...", pkg, sentinel, pkg+": empty ")
		}
	}
}
