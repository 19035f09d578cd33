package session_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// TestDestroyAllRacingRegenerate is the "log out everywhere" attack: one
// goroutine keeps renewing a session while DestroyAll runs. A user's
// sessions share one key, so DestroyAll and each Regenerate are single
// scripts of one slot and Redis runs them one after the other: a renewal
// before DestroyAll is deleted with the rest, one after it finds nothing.
// After DestroyAll returns, no token the loop ever got may work, in the
// store that destroyed (whose local tier saw the tokens) nor in Redis.
func TestDestroyAllRacingRegenerate(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		const trials = 1000
		store := newStore(t, srv, session.Options[cart]{})
		redisOnly := newStore(t, srv, session.Options[cart]{Prefix: session.PrefixOf(store), DisableLocal: true})
		survivors := 0
		for trial := range trials {
			sess, err := store.Create(background, "alice", cart{})
			if err != nil {
				t.Fatal(err)
			}
			tokens := []string{sess.Token}
			renewed := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				defer close(renewed)
				for first := true; ; first = false {
					next, err := store.Regenerate(background, sess)
					if err != nil {
						if !errors.Is(err, session.ErrNotFound) {
							t.Errorf("trial %d: Regenerate: %v", trial, err)
						}
						return
					}
					if _, err := store.Get(background, next.Token); err != nil && !errors.Is(err, session.ErrNotFound) {
						t.Errorf("trial %d: Get: %v", trial, err) // fills the local tier
					}
					sess, tokens = next, append(tokens, next.Token)
					if first {
						renewed <- struct{}{} // DestroyAll goes now, mid-loop
					}
				}
			})
			<-renewed
			if err := store.DestroyAll(background, "alice"); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			survivors += usable(t, trial, tokens, store, redisOnly)
		}
		if survivors > 0 {
			t.Fatalf("%d survivors in %d trials, want 0", survivors, trials)
		}
	})
}

// usable counts the tokens (empty ones skipped) that any of stores still
// serves a session for, reporting each.
func usable(t *testing.T, trial int, tokens []string, stores ...*session.Store[cart]) int {
	t.Helper()
	n := 0
	for _, token := range tokens {
		for _, s := range stores {
			if _, err := s.Get(background, token); token != "" && !errors.Is(err, session.ErrNotFound) {
				n++
				t.Errorf("trial %d: a session is usable after its revocation returned: %v", trial, err)
			}
		}
	}
	return n
}

// TestEndRacingRenew is the same race through the middleware: a logout
// and a renewal sent with the same cookie. Whichever runs first, no token
// works afterwards: a Renew first leaves a forward that End follows (also
// when the logout's request loaded its cookie after the renewal), an End
// first makes the Renew fail.
func TestEndRacingRenew(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		const trials = 1000
		store := newStore(t, srv, session.Options[cart]{})
		redisOnly := newStore(t, srv, session.Options[cart]{Prefix: session.PrefixOf(store), DisableLocal: true})
		h := app(store)
		survivors := 0
		for trial := range trials {
			sess, err := store.Create(background, "alice", cart{})
			if err != nil {
				t.Fatal(err)
			}
			cookie := sessionCookieName + "=" + sess.Token
			var renewedToken string
			var wg sync.WaitGroup
			start := make(chan struct{})
			wg.Go(func() {
				<-start
				resp := do(t, h, background, "/promote", cookie)
				if c := sessionCookie(t, resp); resp.StatusCode == http.StatusOK && c != nil {
					renewedToken = c.Value
				}
			})
			wg.Go(func() {
				<-start
				if resp := do(t, h, background, "/logout", cookie); resp.StatusCode != http.StatusOK {
					t.Errorf("trial %d: /logout status %d", trial, resp.StatusCode)
				}
			})
			close(start)
			wg.Wait()
			survivors += usable(t, trial, []string{sess.Token, renewedToken}, store, redisOnly)
		}
		if survivors > 0 {
			t.Fatalf("%d survivors in %d trials, want 0", survivors, trials)
		}
	})
}

// TestRevocationOrders forces each order of a revocation and a renewal (or
// a save) and checks that nothing survives the revocation.
func TestRevocationOrders(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store := newStore(t, srv, session.Options[cart]{})
		for _, tc := range []struct {
			name   string
			first  func(t *testing.T, sess *session.Session[cart]) *session.Session[cart] // may return the renewed session
			revoke func(sess *session.Session[cart]) error
		}{
			{"Regenerate then DestroyAll", regenerate(store), func(sess *session.Session[cart]) error { return store.DestroyAll(background, "alice") }},
			{"Regenerate then Destroy of the old token", regenerate(store), func(sess *session.Session[cart]) error { return store.Destroy(background, sess.Token) }},
			{"DestroyAll then Regenerate", nil, func(*session.Session[cart]) error { return store.DestroyAll(background, "alice") }},
			{"Destroy then Regenerate", nil, func(sess *session.Session[cart]) error { return store.Destroy(background, sess.Token) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sess, err := store.Create(background, "alice", cart{})
				if err != nil {
					t.Fatal(err)
				}
				tokens := []string{sess.Token}
				if tc.first != nil {
					tokens = append(tokens, tc.first(t, sess).Token)
				}
				if err := tc.revoke(sess); err != nil {
					t.Fatal(err)
				}
				if tc.first == nil {
					if _, err := store.Regenerate(background, sess); !errors.Is(err, session.ErrNotFound) {
						t.Fatalf("Regenerate after the revocation = %v, want ErrNotFound", err)
					}
				}
				for _, token := range tokens {
					if _, err := store.Get(background, token); !errors.Is(err, session.ErrNotFound) {
						t.Errorf("token %d after the revocation: %v, want ErrNotFound", len(tokens), err)
					}
				}
			})
		}
	})
}

func regenerate(store *session.Store[cart]) func(t *testing.T, sess *session.Session[cart]) *session.Session[cart] {
	return func(t *testing.T, sess *session.Session[cart]) *session.Session[cart] {
		renewed, err := store.Regenerate(background, sess)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Get(background, renewed.Token); err != nil { // in the local tier now
			t.Fatal(err)
		}
		return renewed
	}
}
