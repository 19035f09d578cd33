package session_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

var (
	routeKey1 = bytes.Repeat([]byte{0x1}, session.MinRouteKeyLen)
	routeKey2 = bytes.Repeat([]byte{0x2}, session.MinRouteKeyLen)
)

// route is the part of a token that names its Redis key.
func route(token string) string { return token[:22] }

// TestRoutesPerDeployment: the same user's route differs between two
// deployments (two servers, each with the key its first store created),
// while every store of one deployment (same server, same Prefix, another
// client: another process) routes the user to the same key, so that all
// of the user's sessions share it.
func TestRoutesPerDeployment(t *testing.T) {
	name := redistest.Name(t)
	routes := map[string]string{}
	for _, srv := range []*redistest.Server{redistest.Standalone(t), redistest.Cluster(t)} {
		var first string
		for range 2 { // two processes of one deployment
			store := newStoreOn(t, srv.Client(t), session.Options[cart]{Prefix: name})
			sess, err := store.Create(background, "alice@example.com", cart{})
			if err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first = route(sess.Token)
			} else if route(sess.Token) != first {
				t.Errorf("two stores of one deployment route alice to %s and %s, want one key", first, route(sess.Token))
			}
		}
		routes[first] = srv.Option().InitAddress[0]
	}
	if len(routes) != 2 {
		t.Errorf("alice has the same route on two deployments: %v", routes)
	}
}

// TestDestroyAllAfterRotation rotates the route key the documented way
// (the new key added second, then first) and checks that the sessions made
// under the old key keep working, are listed, and are ended by DestroyAll
// and Revoke from a store whose current key is the new one; and that
// dropping the old key ends what was made under it.
func TestDestroyAllAfterRotation(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t)
		before := newStore(t, srv, session.Options[cart]{Prefix: name, RouteKeys: [][]byte{routeKey1}})
		during := newStore(t, srv, session.Options[cart]{Prefix: name, RouteKeys: [][]byte{routeKey1, routeKey2}})
		after := newStore(t, srv, session.Options[cart]{Prefix: name, RouteKeys: [][]byte{routeKey2, routeKey1}})
		dropped := newStore(t, srv, session.Options[cart]{Prefix: name, RouteKeys: [][]byte{routeKey2}})
		create := func(store *session.Store[cart]) *session.Session[cart] {
			t.Helper()
			sess, err := store.Create(background, "alice", cart{})
			if err != nil {
				t.Fatal(err)
			}
			return sess
		}
		old, old2, mid, fresh := create(before), create(before), create(during), create(after)
		if route(old.Token) != route(mid.Token) || route(old.Token) == route(fresh.Token) {
			t.Fatalf("routes %s (old key), %s (new key second), %s (new key first): want the first two equal, the third another", route(old.Token), route(mid.Token), route(fresh.Token))
		}
		for _, token := range []string{old.Token, mid.Token, fresh.Token} {
			for _, store := range []*session.Store[cart]{during, after} {
				if _, err := store.Get(background, token); err != nil {
					t.Fatalf("Get during the rotation: %v", err)
				}
			}
		}
		if infos, err := after.List(background, "alice"); err != nil || len(infos) != 4 {
			t.Fatalf("List after the rotation: %d sessions, %v; want 4", len(infos), err)
		}
		if err := after.Revoke(background, "alice", old2.ID()); err != nil {
			t.Fatalf("Revoke of a session made under the old key: %v", err)
		}
		if _, err := dropped.Get(background, fresh.Token); err != nil {
			t.Fatalf("a session of the remaining key: %v", err)
		}
		if _, err := dropped.Get(background, old.Token); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("a session of a dropped key: %v, want ErrNotFound", err)
		}
		if err := after.DestroyAll(background, "alice"); err != nil {
			t.Fatal(err)
		}
		for _, token := range []string{old.Token, old2.Token, mid.Token, fresh.Token} {
			for _, store := range []*session.Store[cart]{before, during, after} {
				if _, err := store.Get(background, token); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("Get after DestroyAll: %v, want ErrNotFound", err)
				}
			}
		}
	})
}

// TestLostRouteKeyEndsItsSessions: when the route key kept in Redis is
// lost (here deleted, as an eviction or a failover would), the next store
// makes a new one, and the sessions made under the lost key end in every
// process (the one that still held it hears of the change, with a local
// tier or without), so none is
// left that "log out everywhere" could not reach; new sessions of every
// process share the new key.
func TestLostRouteKeyEndsItsSessions(t *testing.T) {
	for _, local := range []bool{true, false} {
		t.Run(fmt.Sprintf("local=%v", local), func(t *testing.T) { testLostRouteKey(t, local) })
	}
}

func testLostRouteKey(t *testing.T, local bool) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t)
		// A process that read the key before it was lost.
		holder := newStore(t, srv, session.Options[cart]{Prefix: name, DisableLocal: !local})
		old, err := holder.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := holder.Get(background, old.Token); err != nil {
			t.Fatal(err)
		}
		raw := srv.Raw(t)
		if err := raw.Do(background, raw.B().Del().Key(session.RouteKeyName(holder)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		newcomer := newStore(t, srv, session.Options[cart]{Prefix: name}) // a process started after the loss
		fresh, err := newcomer.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		if route(fresh.Token) == route(old.Token) {
			t.Fatal("the new route key routes alice as the lost one did")
		}
		if _, err := newcomer.Get(background, old.Token); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("a session of the lost key, read by a process started after: %v, want ErrNotFound", err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if _, err := holder.Get(background, old.Token); !errors.Is(err, session.ErrNotFound) {
				return fmt.Errorf("a session of the lost key, read by the process that held it: %v, want ErrNotFound", err)
			}
			return nil
		})
		again, err := holder.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		if route(again.Token) != route(fresh.Token) {
			t.Errorf("after the loss the two processes route alice to %s and %s, want one key", route(again.Token), route(fresh.Token))
		}
		if err := holder.DestroyAll(background, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := newcomer.Get(background, fresh.Token); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("after DestroyAll: %v, want ErrNotFound", err)
		}
	})
}

// TestRouteKeyCreatedOnce: stores of a new deployment starting together
// (each on its own client, as separate processes) agree on one route key.
func TestRouteKeyCreatedOnce(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t)
		const processes = 8
		routes := make(chan string, processes)
		var wg sync.WaitGroup
		for range processes {
			store := newStoreOn(t, srv.Client(t), session.Options[cart]{Prefix: name})
			wg.Go(func() {
				sess, err := store.Create(background, "alice", cart{})
				if err != nil {
					t.Error(err)
					return
				}
				routes <- route(sess.Token)
			})
		}
		wg.Wait()
		close(routes)
		seen := map[string]int{}
		for r := range routes {
			seen[r]++
		}
		if len(seen) != 1 {
			t.Errorf("%d stores starting together route alice to %v, want one key", processes, seen)
		}
	})
}

// TestRouteKeyCreatorKeepsIt: the store that creates a deployment's route
// key keeps it. Created after its tracked read, the key's creation came
// back to the creator's client as an invalidation, which dropped the
// sessions the store kept in memory and made it read the key again. The
// route key is the only key a store reads with GET (in its script; a
// session is a hash), so the servers' GETs are the key's reads.
func TestRouteKeyCreatorKeepsIt(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store := newStoreOn(t, srv.SteadyClient(t), session.Options[cart]{Prefix: redistest.Name(t)})
		before := srv.CommandCounts(t)
		sess, err := store.Create(background, "alice", cart{Items: []string{"apple"}})
		if err != nil {
			t.Fatal(err)
		}
		// Such an invalidation reaches the client within a millisecond or
		// so; the reads span 100 ms.
		for range 20 {
			if _, err := store.Get(background, sess.Token); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if got := redistest.CommandDelta(before, srv.CommandCounts(t), "get")["get"]; got != 1 {
			t.Errorf("the route key was read %d times, want once", got)
		}
	})
}
