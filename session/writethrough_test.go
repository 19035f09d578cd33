package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// gate is a typecache.Subscriber that, once armed, holds the client's
// reader in the first invalidation of key until released: the
// invalidations behind it (and the subscribers after it) wait. Subscribed
// before a store, it runs before the store's local tier.
type gate struct {
	key              string
	armed            atomic.Bool
	entered, release chan struct{}
}

func newGate(key string) *gate {
	return &gate{key: key, entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) Invalidate(key string) {
	if key == g.key && g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
}

func (g *gate) InvalidateAll() {}

// served reports an error unless store serves token with items (from
// memory when local).
func served(store *session.Store[cart], events *eventLog, token, items string, local bool) error {
	events.take()
	got, err := store.Get(background, token)
	if err != nil {
		return err
	}
	if strings.Join(got.Data.Items, ",") != items {
		return errors.New("served items " + strings.Join(got.Data.Items, ",") + ", want " + items)
	}
	if loads := events.take(); local && (len(loads) != 1 || !strings.HasSuffix(loads[0], "local=true")) {
		return errors.New("not served from memory: " + strings.Join(loads, "; "))
	}
	return nil
}

// TestSaveKeepsWhatItStored: a save keeps the record it stored, and Redis's
// invalidation of the save itself does not drop it, also when that
// invalidation reaches the local tier only after the save returned (the
// gate holds it): the entry absorbs exactly that one. Another process's
// write after the save is heard and drops it.
func TestSaveKeepsWhatItStored(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, foreign := range []string{"save", "destroy"} {
			t.Run("then another process's "+foreign, func(t *testing.T) {
				name := redistest.Name(t)
				client := srv.Client(t)
				other := newStore(t, srv, session.Options[cart]{Prefix: name})
				sess, err := other.Create(background, "alice", cart{Items: []string{"a"}})
				if err != nil {
					t.Fatal(err)
				}
				key, _ := session.SessionKey(other, sess.Token)
				g := newGate(key)
				defer client.Subscribe(keyPrefix(name), g)()
				events := &eventLog{}
				store := newStoreOn(t, client, session.Options[cart]{Prefix: name, Observer: events})
				heard := &keyRecorder{}
				defer client.Subscribe(keyPrefix(name), heard)()

				loaded, err := store.Get(background, sess.Token)
				if err != nil {
					t.Fatal(err)
				}
				g.armed.Store(true)
				loaded.Data.Items = []string{"b"}
				if err := store.Save(background, loaded); err != nil {
					t.Fatal(err)
				}
				select {
				case <-g.entered: // the save's own invalidation, held
				case <-time.After(10 * time.Second):
					t.Fatal("the save's own invalidation never arrived")
				}
				if err := served(store, events, sess.Token, "b", true); err != nil {
					t.Fatalf("after the save, own invalidation held: %v", err)
				}
				close(g.release)
				redistest.Eventually(t, 10*time.Second, func() error {
					if heard.count(key) < 1 {
						return errors.New("the save's own invalidation has not reached the tier")
					}
					return nil
				})
				if err := served(store, events, sess.Token, "b", true); err != nil {
					t.Fatalf("after the save's own invalidation: %v", err)
				}

				// Another process changes the session: this one stops
				// serving the save's record within the invalidation delay.
				start := time.Now()
				switch foreign {
				case "save":
					// other may not have heard of this process's save yet:
					// its copy is then out of date (ErrConflict).
					redistest.Eventually(t, 10*time.Second, func() error {
						changed, err := other.Get(background, sess.Token)
						if err != nil {
							return err
						}
						changed.Data.Items = []string{"c"}
						return other.Save(background, changed)
					})
				case "destroy":
					if err := other.Destroy(background, sess.Token); err != nil {
						t.Fatal(err)
					}
				}
				written := time.Now()
				redistest.Eventually(t, 10*time.Second, func() error {
					if foreign == "save" {
						return served(store, events, sess.Token, "c", false)
					}
					if _, err := store.Get(background, sess.Token); !errors.Is(err, session.ErrNotFound) {
						return errors.New("the destroyed session is still served")
					}
					return nil
				})
				t.Logf("another process's %s seen %v after it returned (%v after it started)", foreign, time.Since(written), time.Since(start))
			})
		}
	})
}

// TestHeldSaveIsNotKept: a save whose reply is held before the local tier
// decides keeps nothing when something else happened to its key meanwhile:
// a write of this process (which returned first, so the save's older
// record must never be served after it), or another process's write
// after the save (two invalidations: the save's own and that one).
func TestHeldSaveIsNotKept(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, tc := range []struct {
			name      string
			overtake  func(store, other *session.Store[cart], token string) error
			wantItems string // "" wants ErrNotFound
		}{
			{"own destroy", func(store, _ *session.Store[cart], token string) error {
				return store.Destroy(background, token)
			}, ""},
			{"another process's destroy", func(_, other *session.Store[cart], token string) error {
				return other.Destroy(background, token)
			}, ""},
			{"another process's save", func(_, other *session.Store[cart], token string) error {
				sess, err := other.Get(background, token)
				if err != nil {
					return err
				}
				sess.Data.Items = []string{"other"}
				return other.Save(background, sess)
			}, "other"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				name := redistest.Name(t)
				client := srv.Client(t)
				events := &eventLog{}
				store := newStoreOn(t, client, session.Options[cart]{Prefix: name, Observer: events})
				other := newStore(t, srv, session.Options[cart]{Prefix: name})
				heard := &keyRecorder{}
				defer client.Subscribe(keyPrefix(name), heard)()
				sess, err := store.Create(background, "alice", cart{Items: []string{"a"}})
				if err != nil {
					t.Fatal(err)
				}
				// A create sends nothing tracked, so the client hears of the
				// key only from the save on.
				key, _ := session.SessionKey(store, sess.Token)
				before := heard.count(key)

				held, release := make(chan struct{}), make(chan struct{})
				var once sync.Once
				session.HoldReply(store, func(context.Context) {
					once.Do(func() { close(held); <-release })
				})
				saved := make(chan error, 1)
				go func() {
					sess.Data.Items = []string{"saved"}
					saved <- store.Save(background, sess)
				}()
				<-held
				if err := tc.overtake(store, other, sess.Token); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(tc.name, "own") {
					// Both invalidations (the save's own and the other
					// write's) have reached the tier.
					redistest.Eventually(t, 10*time.Second, func() error {
						if heard.count(key)-before < 2 {
							return errors.New("the invalidations have not arrived")
						}
						return nil
					})
				}
				close(release)
				if err := <-saved; err != nil {
					t.Fatal(err)
				}
				for range 3 {
					got, err := store.Get(background, sess.Token)
					switch {
					case tc.wantItems == "" && !errors.Is(err, session.ErrNotFound):
						t.Fatalf("the overtaken save's record is served: %+v, %v", got, err)
					case tc.wantItems != "" && (err != nil || strings.Join(got.Data.Items, ",") != tc.wantItems):
						t.Fatalf("served %+v, %v; want items %s", got, err, tc.wantItems)
					}
				}
			})
		}
	})
}

// TestNoLoopClientKeepsNoWrites: with NOLOOP, Redis does not notify a
// client of its own writes, which keeping a write counts on: the store
// keeps reads only (a save is followed by a read, two round trips), and
// another process's writes are still heard.
func TestNoLoopClientKeepsNoWrites(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t)
		client, trips := countedClientWith(t, srv, name, []string{"OPTIN", "NOLOOP"})
		events := &eventLog{}
		store := newStoreOn(t, client, session.Options[cart]{Prefix: name, Observer: events})
		other := newStore(t, srv, session.Options[cart]{Prefix: name})
		warmScripts(t, store)
		sess, err := store.Create(background, "alice", cart{Items: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		flushes := watchFlushes(t, client)
		withoutFlush(t, flushes, func() error {
			readFromMemory(t, store, events, sess.Token)
			current, err := store.Get(background, sess.Token)
			if err != nil {
				return err
			}
			current.Data.Items = []string{"b"}
			before := trips.Load()
			if err := store.Save(background, current); err != nil {
				return err
			}
			if err := served(store, events, sess.Token, "b", false); err != nil {
				return err
			}
			if got := trips.Load() - before; got != 2 {
				return errors.New("a save and the read after it did not cost two round trips")
			}
			return nil
		})
		if err := other.Destroy(background, sess.Token); err != nil {
			t.Fatal(err)
		}
		redistest.Eventually(t, 10*time.Second, func() error {
			if _, err := store.Get(background, sess.Token); !errors.Is(err, session.ErrNotFound) {
				return errors.New("the destroyed session is still served")
			}
			return nil
		})
	})
}
