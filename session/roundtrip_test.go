package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// keyRecorder is a typecache.Subscriber that remembers which keys were
// invalidated.
type keyRecorder struct {
	mu   sync.Mutex
	keys map[string]int
	all  int
}

func (r *keyRecorder) Invalidate(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = map[string]int{}
	}
	r.keys[key]++
}

func (r *keyRecorder) InvalidateAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all++
}

func (r *keyRecorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[key]
}

// TestRoundTrips counts round trips at the connection (writes that carry
// one of the store's keys, see roundTrips) for the middleware's four
// workloads: an unchanged session read costs 0, a session changed by
// another process 1, a session created and filled (three Puts) in one
// request 1 (and its first read in the process 1, since a create keeps
// nothing), a modification 1.
func TestRoundTrips(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t)
		client, trips := countedClient(t, srv, name)
		events := &eventLog{}
		store := newStoreOn(t, client, session.Options[cart]{Prefix: name, Observer: events})
		other := newStore(t, srv, session.Options[cart]{Prefix: name}) // another process
		warmScripts(t, store)
		invalidations := &keyRecorder{}
		defer client.Subscribe(keyPrefix(name), invalidations)()

		sess, err := other.Create(background, "alice", cart{Items: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		key, _ := session.SessionKey(store, sess.Token)
		h := app(store)
		cookie := sessionCookieName + "=" + sess.Token
		// requests serves n requests and checks each's body and round trips.
		requests := func(what, target, cookie string, wantTrips int64, wantBody string, n int) error {
			for range n {
				before := trips.Load()
				resp := do(t, h, background, target, cookie)
				if got := body(t, resp); resp.StatusCode != http.StatusOK || (wantBody != "" && got != wantBody) {
					return fmt.Errorf("%s: status %d, body %q; want 200 and %q", what, resp.StatusCode, got, wantBody)
				}
				if got := trips.Load() - before; got != wantTrips {
					return fmt.Errorf("%s: %d round trips, want %d", what, got, wantTrips)
				}
			}
			return nil
		}
		request := func(what, target, cookie string, wantTrips int64, wantBody string) {
			t.Helper()
			if err := requests(what, target, cookie, wantTrips, wantBody, 1); err != nil {
				t.Error(err)
			}
		}

		request("first read in this process", "/view", cookie, 1, "alice:a")
		flushes := watchFlushes(t, client)
		withoutFlush(t, flushes, func() error {
			readFromMemory(t, store, events, sess.Token)
			return requests("unchanged read", "/view", cookie, 0, "alice:a", 5)
		})

		// Another process changes the session; this one hears of it, reads
		// it once from Redis, and from memory again after that.
		changes := 0
		withoutFlush(t, flushes, func() error {
			changes++
			changed, err := other.Get(background, sess.Token)
			if err != nil {
				return err
			}
			item := "b" + strconv.Itoa(changes)
			changed.Data.Items = []string{item}
			if err := other.Save(background, changed); err != nil {
				return err
			}
			redistest.Eventually(t, 5*time.Second, func() error {
				if invalidations.count(key) < changes {
					return errors.New("the other process's save has not been reported yet")
				}
				return nil
			})
			return errors.Join(requests("read changed by another process", "/view", cookie, 1, "alice:"+item, 1),
				requests("unchanged read", "/view", cookie, 0, "alice:"+item, 1))
		})

		request("modify", "/add?item=c", cookie, 1, "")
		// A save keeps what it stored, so the next request reads it from
		// memory: modifying the session on every request costs one round
		// trip per request, not two.
		withoutFlush(t, flushes, func() error {
			return requests("modify in a loop", "/add?item=d", cookie, 1, "", 20)
		})

		fill := store.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := store.Start(r.Context(), "", cart{}); err != nil {
				t.Error(err)
			}
			var items []string
			for _, item := range []string{"x", "y", "z"} {
				items = append(items, item)
				if err := store.Put(r.Context(), cart{Items: items}); err != nil {
					t.Error(err)
				}
			}
			io.WriteString(w, "ok")
		}))
		before := trips.Load()
		resp := do(t, fill, background, "/", "")
		if got := trips.Load() - before; got != 1 {
			t.Errorf("create and fill: %d round trips, want 1", got)
		}
		created := sessionCookie(t, resp)
		if created == nil {
			t.Fatal("create and fill set no cookie")
		}
		if got, err := other.Get(background, created.Value); err != nil || strings.Join(got.Data.Items, ",") != "x,y,z" {
			t.Errorf("created session %v, %v; want items x,y,z", got, err)
		}
		// A create keeps nothing: the next request reads the session, as it
		// would in any other process, and keeps it; the one after is served
		// from memory.
		request("first read of the session created", "/view", sessionCookieName+"="+created.Value, 1, ":x,y,z")
		request("second read of the session created", "/view", sessionCookieName+"="+created.Value, 0, ":x,y,z")
		// A change by another process drops the kept record.
		heard := invalidations.count(createdKey(store, created.Value))
		changed, err := other.Get(background, created.Value)
		if err != nil {
			t.Fatal(err)
		}
		changed.Data.Items = []string{"w"}
		if err := other.Save(background, changed); err != nil {
			t.Fatal(err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if invalidations.count(createdKey(store, created.Value)) <= heard {
				return errors.New("the other process's save has not been reported yet")
			}
			return nil
		})
		request("read of the created session changed by another process", "/view", sessionCookieName+"="+created.Value, 1, ":w")
	})
}

func createdKey(store *session.Store[cart], token string) string {
	key, _ := session.SessionKey(store, token)
	return key
}

// TestOwnWritesAreNeverOvertaken: after Destroy, DestroyAll, Regenerate or
// Save returns, the process that made it never serves what it replaced,
// also when a read that started before the write delivers its (older)
// reply after it: the read's reply reaches its caller but not the local
// tier.
func TestOwnWritesAreNeverOvertaken(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, tc := range []struct {
			name  string
			write func(store *session.Store[cart], sess *session.Session[cart]) error
			check func(store *session.Store[cart], sess *session.Session[cart]) error // after the write
		}{
			{"Destroy", func(store *session.Store[cart], sess *session.Session[cart]) error {
				return store.Destroy(background, sess.Token)
			}, gone},
			{"DestroyAll", func(store *session.Store[cart], sess *session.Session[cart]) error {
				return store.DestroyAll(background, sess.UserID)
			}, gone},
			{"Regenerate", func(store *session.Store[cart], sess *session.Session[cart]) error {
				_, err := store.Regenerate(background, sess)
				return err
			}, gone},
			{"Save", func(store *session.Store[cart], sess *session.Session[cart]) error {
				sess.Data.Items = []string{"saved"}
				return store.Save(background, sess)
			}, func(store *session.Store[cart], sess *session.Session[cart]) error {
				got, err := store.Get(background, sess.Token)
				if err != nil || strings.Join(got.Data.Items, ",") != "saved" {
					return errors.New("the saved data is not what is served")
				}
				return nil
			}},
		} {
			for _, inFlight := range []bool{false, true} {
				name := tc.name + "/cached"
				if inFlight {
					name = tc.name + "/read in flight"
				}
				t.Run(name, func(t *testing.T) {
					store := newStore(t, srv, session.Options[cart]{})
					sess, err := store.Create(background, "alice", cart{Items: []string{"old"}})
					if err != nil {
						t.Fatal(err)
					}
					writer, err := store.Get(background, sess.Token) // the copy the write starts from; cached now
					if err != nil {
						t.Fatal(err)
					}
					if inFlight {
						// A fresh read, held after its reply until the write returned.
						if err := store.Save(background, writer); err != nil {
							t.Fatal(err)
						}
						session.DropLocal(store, sess.Token)
						held, release := make(chan struct{}), make(chan struct{})
						var first atomic.Bool
						session.HoldReply(store, func(context.Context) {
							if first.CompareAndSwap(false, true) { // the read, not the write
								close(held)
								<-release
							}
						})
						done := make(chan error, 1)
						go func() {
							_, err := store.Get(background, sess.Token)
							done <- err
						}()
						<-held
						if err := tc.write(store, writer); err != nil {
							t.Fatal(err)
						}
						close(release)
						if err := <-done; err != nil {
							t.Fatalf("the overtaken read: %v (it may serve the old state, but not fail)", err)
						}
					} else if err := tc.write(store, writer); err != nil {
						t.Fatal(err)
					}
					for range 3 {
						if err := tc.check(store, writer); err != nil {
							t.Fatal(err)
						}
					}
				})
			}
		}
	})
}

func gone(store *session.Store[cart], sess *session.Session[cart]) error {
	if _, err := store.Get(background, sess.Token); !errors.Is(err, session.ErrNotFound) {
		return errors.New("the revoked session is still served")
	}
	return nil
}
