package otel_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// loadTally counts the loads a session store reported, by tier, and holds
// the name session.New gave it (on the test's goroutine).
type loadTally struct {
	session.NoopObserver
	name          string
	local, remote atomic.Int64
}

func (l *loadTally) WithName(name string) session.Observer {
	l.name = name
	return l
}

func (l *loadTally) OnLoaded(_ session.Event, local bool) {
	if local {
		l.local.Add(1)
	} else {
		l.remote.Add(1)
	}
}

// wellFormed is a token a store could have issued, of no session.
var wellFormed = strings.Repeat("A", 22) + "." + strings.Repeat("A", 43)

// TestSessionInstruments drives a store through every life-cycle event
// and checks typecache.session.events and typecache.session.errors point
// by point.
func TestSessionInstruments(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		m, reader := newMetrics(t)
		name := redistest.Name(t)
		loads := &loadTally{}
		store, err := session.New(srv.Client(t), session.Options[string]{Prefix: name, Observer: m.SessionObserver(loads)})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}

		a, err := store.Create(background, "alice", "cart") // created
		must(err)
		// The creating store keeps what it wrote; another process's store
		// reads the session from Redis.
		other, err := session.New(srv.Client(t), session.Options[string]{Prefix: name, Observer: m.SessionObserver(loads)})
		must(err)
		defer other.Close()
		_, err = other.Get(background, a.Token) // loaded, from Redis
		must(err)
		stale, err := store.Get(background, a.Token) // loaded
		must(err)
		redistest.Eventually(t, 5*time.Second, func() error { // loaded, until one from memory
			_, err := store.Get(background, a.Token)
			if err == nil && loads.local.Load() == 0 {
				err = errors.New("no load from the local tier")
			}
			return err
		})
		must(store.Save(background, a)) // saved
		if err := store.Save(background, stale); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("Save of a stale copy = %v, want ErrConflict", err) // conflict
		}
		renewed, err := store.Regenerate(background, a) // regenerated
		must(err)
		if _, err := store.Get(background, a.Token); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Get of a replaced token = %v", err) // rejected: unknown
		}
		if _, err := store.Get(background, "x"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Get of a malformed token = %v", err) // rejected: malformed
		}
		must(store.Destroy(background, renewed.Token)) // destroyed
		for range 2 {
			_, err := store.Create(background, "bob", "cart") // created
			must(err)
		}
		must(store.DestroyAll(background, "bob")) // destroyed, twice
		cancelled, cancel := context.WithCancel(background)
		cancel()
		if _, err := store.Get(cancelled, wellFormed); err == nil {
			t.Fatal("Get with a cancelled context succeeded") // error: get
		}

		s := collect(t, reader)
		n := attribute.String("typecache.session.store", name)
		event := func(e string, more ...attribute.KeyValue) string {
			return set(append(more, n, attribute.String("typecache.session.event", e))...)
		}
		tier := func(t string) attribute.KeyValue { return attribute.String("typecache.session.tier", t) }
		reason := func(r string) attribute.KeyValue { return attribute.String("typecache.session.reject.reason", r) }
		s.expectSums(t, map[string]map[string]int64{
			"typecache.session.events": {
				event("created"): 3, event("saved"): 1, event("conflict"): 1, event("regenerated"): 1, event("destroyed"): 3,
				event("loaded", tier("local")): loads.local.Load(), event("loaded", tier("remote")): loads.remote.Load(),
				event("rejected", reason("unknown")): 1, event("rejected", reason("malformed")): 1,
			},
			"typecache.session.errors": {set(n, attribute.String("typecache.session.operation", "get")): 1},
		})
		if loads.name != name {
			t.Errorf("the observer passed on was named %q, want the store's prefix %q", loads.name, name)
		}
		if loads.remote.Load() == 0 {
			t.Error("no load from Redis")
		}
	})
}

// TestSessionAttributesBounded: reasons and operations the store may add
// later are recorded under one value each, never as they come.
func TestSessionAttributesBounded(t *testing.T) {
	m, reader := newMetrics(t)
	obs := m.SessionObserver(nil).(session.NamedObserver).WithName("s")
	for _, r := range []session.RejectReason{session.RejectTampered, session.RejectUndecodable, 99} {
		obs.OnRejected(r)
	}
	obs.OnError("save", errors.New("x"))
	obs.OnError("an operation of a later version", errors.New("x"))
	s := collect(t, reader)
	n := attribute.String("typecache.session.store", "s")
	rejected := func(r string) string {
		return set(n, attribute.String("typecache.session.event", "rejected"), attribute.String("typecache.session.reject.reason", r))
	}
	op := func(o string) string { return set(n, attribute.String("typecache.session.operation", o)) }
	if diff := cmp.Diff(map[string]int64{rejected("tampered"): 1, rejected("undecodable"): 1, rejected("invalid"): 1}, s.sums(t, "typecache.session.events")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int64{op("save"): 1, op("other"): 1}, s.sums(t, "typecache.session.errors")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
