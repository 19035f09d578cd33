package session_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/testkit/testclock"
	"github.com/typecache/typecache/session"
)

func TestCreateGet(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store, clk := newClockedStore(t, srv, session.Options[cart]{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour})
		start := clk.Now()
		data := cart{Items: []string{"apple", "pear"}}
		created, err := store.Create(background, "alice", data)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		got, err := store.Get(background, created.Token)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(data, got.Data); diff != "" {
			t.Errorf("Data (-want +got):\n%s", diff)
		}
		for _, c := range []struct {
			name      string
			got, want time.Time
		}{
			{"CreatedAt", got.CreatedAt, start},
			{"LastSeen", got.LastSeen, start}, // within the touch threshold: not extended
			{"ExpiresAt", got.ExpiresAt, start.Add(10 * time.Minute)},
			{"AbsoluteExpiresAt", got.AbsoluteExpiresAt, start.Add(time.Hour)},
		} {
			if !c.got.Equal(c.want) {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
		if got.UserID != "alice" || got.Token != created.Token || got.ID() != created.ID() {
			t.Errorf("Get = user %q token %q id %q, want alice, %q, %q", got.UserID, got.Token, got.ID(), created.Token, created.ID())
		}
	})
}

func TestNotFoundIsOneError(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store, clk := newClockedStore(t, srv, session.Options[cart]{IdleTimeout: time.Minute})
		expired, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		destroyed, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Destroy(background, destroyed.Token); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		unknown := wellFormed
		for name, token := range map[string]string{
			"unknown":                      unknown,
			"expired":                      expired.Token,
			"destroyed":                    destroyed.Token,
			"empty":                        "",
			"secret only":                  expired.Token[23:],
			"short":                        unknown[:65],
			"long":                         unknown + "A",
			"padded":                       unknown[:65] + "=",
			"alphabet":                     "+" + unknown[1:],
			"non-canonical last character": unknown[:65] + "B",
		} {
			if _, err := store.Get(background, token); err != session.ErrNotFound {
				t.Errorf("%s: Get err = %v, want exactly ErrNotFound", name, err)
			}
		}
	})
}

// wellFormed has the shape of a token and names no session.
var wellFormed = strings.Repeat("A", 22) + "." + strings.Repeat("A", 43)

// A canceled context makes every Redis call fail, so an ErrNotFound under
// one proves that no call was made.
func TestMalformedTokenSkipsRedis(t *testing.T) {
	store := newStore(t, redistest.Standalone(t), session.Options[cart]{})
	ctx, cancel := context.WithCancel(background)
	cancel()
	for _, token := range []string{"", "x", wellFormed[:65] + "B", strings.Repeat("/", 66), wellFormed[23:]} {
		if _, err := store.Get(ctx, token); err != session.ErrNotFound {
			t.Errorf("Get(%q) with canceled ctx = %v, want ErrNotFound without a Redis call", token, err)
		}
		if err := store.Destroy(ctx, token); err != session.ErrNotFound {
			t.Errorf("Destroy(%q) with canceled ctx = %v, want ErrNotFound without a Redis call", token, err)
		}
	}
	if _, err := store.Get(ctx, wellFormed); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(well-formed) with canceled ctx = %v, want context.Canceled (it must reach Redis)", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		const idle = 10 * time.Minute
		store, clk := newClockedStore(t, srv, session.Options[cart]{IdleTimeout: idle, AbsoluteTimeout: time.Hour})
		sess, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		// Each read just before the idle deadline slides it.
		for i := range 3 {
			clk.Advance(idle - time.Millisecond)
			got, err := store.Get(background, sess.Token)
			if err != nil {
				t.Fatalf("read %d, 1ms before the idle deadline: %v", i, err)
			}
			if !got.LastSeen.Equal(clk.Now()) || !got.ExpiresAt.Equal(clk.Now().Add(idle)) {
				t.Fatalf("read %d: LastSeen %v ExpiresAt %v, want %v and +%v", i, got.LastSeen, got.ExpiresAt, clk.Now(), idle)
			}
		}
		clk.Advance(idle)
		if _, err := store.Get(background, sess.Token); err != session.ErrNotFound {
			t.Fatalf("Get after %v idle = %v, want ErrNotFound", idle, err)
		}
	})
}

func TestAbsoluteTimeout(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		const idle, absolute = 10 * time.Minute, 30 * time.Minute
		store, clk := newClockedStore(t, srv, session.Options[cart]{IdleTimeout: idle, AbsoluteTimeout: absolute})
		sess, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		deadline := clk.Now().Add(absolute)
		for clk.Now().Add(5 * time.Minute).Before(deadline) {
			clk.Advance(5 * time.Minute)
			if _, err := store.Get(background, sess.Token); err != nil {
				t.Fatalf("Get at %v before the absolute deadline: %v", deadline.Sub(clk.Now()), err)
			}
		}
		clk.Advance(deadline.Sub(clk.Now()) - time.Millisecond)
		got, err := store.Get(background, sess.Token)
		if err != nil {
			t.Fatalf("Get 1ms before the absolute deadline: %v", err)
		}
		if !got.ExpiresAt.Equal(deadline) {
			t.Errorf("ExpiresAt = %v, want it capped at the absolute deadline %v", got.ExpiresAt, deadline)
		}
		clk.Advance(time.Millisecond)
		if _, err := store.Get(background, sess.Token); err != session.ErrNotFound {
			t.Fatalf("Get at the absolute deadline of an active session = %v, want ErrNotFound", err)
		}
		if err := store.Save(background, got); err != session.ErrNotFound {
			t.Fatalf("Save after the absolute deadline = %v, want ErrNotFound", err)
		}
	})
}

// TestReadWithinTouchThresholdWritesNothing: reads within TouchThreshold
// write nothing (with the local tier, they send nothing at all), and the
// first read past it writes one meta field (and the key's TTL when that
// grows; with the test clock, Redis's own clock has not moved, so it may
// not).
func TestReadWithinTouchThresholdWritesNothing(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, tc := range []struct {
			name         string
			disableLocal bool
			readTrips    int64 // round trips of the 5 reads within the threshold
		}{
			{"local tier", false, 0},
			{"no local tier", true, 5},
		} {
			t.Run(tc.name, func(t *testing.T) {
				name := redistest.Name(t)
				client, trips := countedClient(t, srv, name)
				events := &eventLog{}
				store := newStoreOn(t, client, session.Options[cart]{Prefix: name, IdleTimeout: 10 * time.Minute, TouchThreshold: time.Minute, DisableLocal: tc.disableLocal, Observer: events})
				clk := testclock.New(time.Now().Truncate(time.Millisecond))
				session.SetClock(store, clk.Now)
				flushes := watchFlushes(t, client)
				var sess *session.Session[cart]
				var after map[string]int
				withoutFlush(t, flushes, func() error {
					var err error
					if sess, err = store.Create(background, "alice", cart{Items: []string{"apple"}}); err != nil {
						return err
					}
					// A create keeps nothing: read it once from Redis.
					if _, err := store.Get(background, sess.Token); err != nil { // loads the script, fills the local tier
						return err
					}
					if !tc.disableLocal {
						readFromMemory(t, store, events, sess.Token)
					}
					const reads = 5
					before, tripsBefore := srv.CommandCounts(t), trips.Load()
					for range reads {
						clk.Advance(10 * time.Second) // 50 s in all: within the threshold
						if _, err := store.Get(background, sess.Token); err != nil {
							return err
						}
					}
					after = srv.CommandCounts(t)
					if got := trips.Load() - tripsBefore; got != tc.readTrips {
						return fmt.Errorf("%d reads within the threshold took %d round trips, want %d", reads, got, tc.readTrips)
					}
					want := map[string]int{}
					if tc.readTrips > 0 {
						want["evalsha"] = reads
					}
					if diff := cmp.Diff(want, redistest.CommandDelta(before, after, "evalsha", "eval", "hset", "pexpire", "del", "hdel")); diff != "" {
						return fmt.Errorf("commands for %d reads within the threshold (-want +got):\n%s", reads, diff)
					}
					return nil
				})

				clk.Advance(10 * time.Second) // 60 s since the last extension
				flushed := flushes.n.Load()
				before, tripsBefore := after, trips.Load()
				got, err := store.Get(background, sess.Token)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]int{"evalsha": 1, "hset": 1}
				if diff := cmp.Diff(want, redistest.CommandDelta(before, srv.CommandCounts(t), "evalsha", "eval", "hset", "del", "hdel")); diff != "" {
					t.Errorf("commands for a read past the threshold (-want +got):\n%s", diff)
				}
				if n := trips.Load() - tripsBefore; n != 1 {
					t.Errorf("a read past the threshold took %d round trips, want 1", n)
				}
				if !got.LastSeen.Equal(clk.Now()) {
					t.Errorf("LastSeen = %v, want %v after the extension", got.LastSeen, clk.Now())
				}
				// The extension keeps what it wrote: the next read sends
				// nothing (unless the client flushed meanwhile).
				clk.Advance(time.Second)
				tripsBefore = trips.Load()
				if _, err := store.Get(background, sess.Token); err != nil {
					t.Fatal(err)
				}
				if n, want := trips.Load()-tripsBefore, tc.readTrips/5; n != want && flushes.n.Load() == flushed {
					t.Errorf("the read after an extension took %d round trips, want %d", n, want)
				}
			})
		}
	})
}

func TestConcurrentSaveConflict(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store := newStore(t, srv, session.Options[cart]{})
		sess, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 20 {
			a, errA := store.Get(background, sess.Token)
			b, errB := store.Get(background, sess.Token)
			if err := errors.Join(errA, errB); err != nil {
				t.Fatal(err)
			}
			a.Data.Items = append(a.Data.Items, "a")
			b.Data.Items = append(b.Data.Items, "b")
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, 2)
			for i, s := range []*session.Session[cart]{a, b} {
				wg.Go(func() {
					<-start
					errs[i] = store.Save(background, s)
				})
			}
			close(start)
			wg.Wait()
			conflicts, successes := 0, 0
			for _, err := range errs {
				switch err {
				case nil:
					successes++
				case session.ErrConflict:
					conflicts++
				default:
					t.Fatalf("round %d: Save: %v", round, err)
				}
			}
			if successes != 1 || conflicts != 1 {
				t.Fatalf("round %d: %d saves succeeded and %d conflicted, want 1 and 1", round, successes, conflicts)
			}
			winner := a
			if errs[0] != nil {
				winner = b
			}
			got, err := store.Get(background, sess.Token)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(winner.Data, got.Data); diff != "" {
				t.Fatalf("round %d: stored data is not the winner's (-want +got):\n%s", round, diff)
			}
			// The winner's copy is current: it can save again.
			if err := store.Save(background, winner); err != nil {
				t.Fatalf("round %d: second Save by the winner: %v", round, err)
			}
		}
	})
}

func TestRegenerate(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store, clk := newClockedStore(t, srv, session.Options[cart]{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour})
		old, err := store.Create(background, "alice", cart{Items: []string{"apple"}})
		if err != nil {
			t.Fatal(err)
		}
		stale, err := store.Get(background, old.Token)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(5 * time.Minute)
		old.Data.Admin = true // the privilege change that calls for a new token
		renewed, err := store.Regenerate(background, old)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Get(background, old.Token); err != session.ErrNotFound {
			t.Errorf("Get(old token) after Regenerate = %v, want ErrNotFound", err)
		}
		if renewed.Token == old.Token || renewed.ID() == old.ID() {
			t.Error("Regenerate kept the token")
		}
		got, err := store.Get(background, renewed.Token)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(old.Data, got.Data); diff != "" {
			t.Errorf("data under the new token (-want +got):\n%s", diff)
		}
		if got.UserID != "alice" || !got.CreatedAt.Equal(old.CreatedAt) || !got.AbsoluteExpiresAt.Equal(old.AbsoluteExpiresAt) {
			t.Errorf("new session: user %q created %v absolute %v; want alice, %v, %v (kept)",
				got.UserID, got.CreatedAt, got.AbsoluteExpiresAt, old.CreatedAt, old.AbsoluteExpiresAt)
		}
		if _, err := store.Regenerate(background, stale); err != session.ErrNotFound {
			t.Errorf("Regenerate of a session already moved = %v, want ErrNotFound", err)
		}
		infos, err := store.List(background, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 1 || infos[0].ID != renewed.ID() {
			t.Errorf("List after Regenerate = %+v, want only %s", infos, renewed.ID())
		}

		// A copy loaded before someone else's Save cannot regenerate.
		other, err := store.Get(background, renewed.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Save(background, renewed); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Regenerate(background, other); err != session.ErrConflict {
			t.Errorf("Regenerate of an out-of-date copy = %v, want ErrConflict", err)
		}
		if _, err := store.Get(background, renewed.Token); err != nil {
			t.Errorf("a conflicting Regenerate must leave the session alone: %v", err)
		}
	})
}

func TestDestroyAll(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store := newStore(t, srv, session.Options[cart]{})
		create := func(user string, n int) []string {
			var tokens []string
			for range n {
				s, err := store.Create(background, user, cart{})
				if err != nil {
					t.Fatal(err)
				}
				tokens = append(tokens, s.Token)
			}
			return tokens
		}
		alice, bob, anonymous := create("alice", 5), create("bob", 2), create("", 1)
		if err := store.DestroyAll(background, "alice"); err != nil {
			t.Fatal(err)
		}
		for _, token := range alice {
			if _, err := store.Get(background, token); err != session.ErrNotFound {
				t.Errorf("alice's session after DestroyAll: %v, want ErrNotFound", err)
			}
		}
		for _, token := range append(bob, anonymous...) {
			if _, err := store.Get(background, token); err != nil {
				t.Errorf("another user's session after DestroyAll(alice): %v", err)
			}
		}
		if infos, err := store.List(background, "alice"); err != nil || len(infos) != 0 {
			t.Errorf("List(alice) after DestroyAll = %v, %v; want none", infos, err)
		}
		if infos, err := store.List(background, "bob"); err != nil || len(infos) != 2 {
			t.Errorf("List(bob) = %v, %v; want 2 sessions", infos, err)
		}
		for _, err := range []error{store.DestroyAll(background, ""), store.Revoke(background, "", "x")} {
			if err != session.ErrEmptyKey {
				t.Errorf("empty user ID: %v, want ErrEmptyKey", err)
			}
		}
	})
}

func TestListAndRevoke(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store, clk := newClockedStore(t, srv, session.Options[cart]{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour})
		var sessions []*session.Session[cart]
		for range 3 {
			s, err := store.Create(background, "alice", cart{})
			if err != nil {
				t.Fatal(err)
			}
			sessions = append(sessions, s)
			clk.Advance(time.Minute)
		}
		bobs, err := store.Create(background, "bob", cart{})
		if err != nil {
			t.Fatal(err)
		}
		infos, err := store.List(background, "alice")
		if err != nil {
			t.Fatal(err)
		}
		var want []session.Info
		for _, s := range sessions {
			want = append(want, session.Info{ID: s.ID(), CreatedAt: s.CreatedAt, LastSeen: s.LastSeen, ExpiresAt: s.ExpiresAt, AbsoluteExpiresAt: s.AbsoluteExpiresAt})
		}
		if diff := cmp.Diff(want, infos); diff != "" {
			t.Errorf("List, oldest first (-want +got):\n%s", diff)
		}

		if err := store.Revoke(background, "alice", bobs.ID()); err != session.ErrNotFound {
			t.Errorf("Revoke of another user's session = %v, want ErrNotFound", err)
		}
		if err := store.Revoke(background, "alice", sessions[1].ID()); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Get(background, sessions[1].Token); err != session.ErrNotFound {
			t.Errorf("revoked session: %v, want ErrNotFound", err)
		}

		// The first session idles out (the others were created later); List
		// drops it. Reading the third keeps it alive.
		clk.Advance(10*time.Minute - 2*time.Minute)
		if _, err := store.Get(background, sessions[2].Token); err != nil {
			t.Fatal(err)
		}
		infos, err = store.List(background, "alice")
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, info := range infos {
			ids = append(ids, info.ID)
		}
		if !slices.Equal(ids, []string{sessions[2].ID()}) {
			t.Errorf("List after idle expiry = %v, want [%s]", ids, sessions[2].ID())
		}
		if _, err := store.Get(background, bobs.Token); err != nil {
			t.Errorf("bob's session: %v", err)
		}
	})
}
