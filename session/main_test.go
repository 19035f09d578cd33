package session_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/testkit/testclock"
	"github.com/typecache/typecache/session"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// cart is the session data type the tests store.
type cart struct {
	Items []string `json:"items"`
	Admin bool     `json:"admin,omitempty"`
}

// newStore returns a store on srv under an instance name unique to t
// (opts.Prefix, when the test chose one).
func newStore(t testing.TB, srv *redistest.Server, opts session.Options[cart]) *session.Store[cart] {
	t.Helper()
	return newStoreOn(t, srv.Client(t), opts)
}

func newStoreOn(t testing.TB, client *typecache.Client, opts session.Options[cart]) *session.Store[cart] {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = redistest.Name(t)
	}
	s, err := session.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// keyPrefix is the start of every Redis key of the store instance name.
func keyPrefix(name string) string { return "session:" + name + ":" }

// newClockedStore is newStore with a test clock in place of Redis TIME and
// of the application's clock.
func newClockedStore(t testing.TB, srv *redistest.Server, opts session.Options[cart]) (*session.Store[cart], *testclock.Clock) {
	s := newStore(t, srv, opts)
	c := testclock.New(time.Now().Truncate(time.Millisecond))
	session.SetClock(s, c.Now)
	return s, c
}

// roundTrips counts, at the connection, the writes to Redis that carry a
// command of one store instance: every write whose bytes hold one of the
// instance's keys. With one request in flight at a time, a write is a round
// trip (rueidis writes the commands of one call, a tracked read's MULTI …
// EXEC included, in one write). Other traffic on the connections (the
// cluster topology watch, pings) names no key of the instance and is not
// counted.
type roundTrips struct {
	marker []byte
	n      atomic.Int64
}

func (r *roundTrips) Load() int64 { return r.n.Load() }

type countingConn struct {
	net.Conn
	trips *roundTrips
}

func (c countingConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, c.trips.marker) {
		c.trips.n.Add(1)
	}
	return c.Conn.Write(p)
}

// countedClient returns a client of srv whose connections count the round
// trips of instance name, closed when t ends. It connects with
// SteadyOption, so that no dial of its start can add a flush to the counts.
func countedClient(t testing.TB, srv *redistest.Server, name string) (*typecache.Client, *roundTrips) {
	t.Helper()
	return countedClientWith(t, srv, name, nil)
}

// countedClientWith is countedClient with tracking options opts (nil:
// rueidis's default, OPTIN).
func countedClientWith(t testing.TB, srv *redistest.Server, name string, opts []string) (*typecache.Client, *roundTrips) {
	t.Helper()
	trips := &roundTrips{marker: []byte(keyPrefix(name))}
	opt := srv.SteadyOption()
	opt.ClientTrackingOptions = opts
	opt.DialCtxFn = func(ctx context.Context, addr string, dialer *net.Dialer, _ *tls.Config) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, "tcp", addr) // the test servers speak plain TCP
		if err != nil {
			return nil, err
		}
		return countingConn{conn, trips}, nil
	}
	client, err := typecache.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client, trips
}

var background = context.Background()

// warmScripts runs each of store's scripts on sessions of 64 random routes,
// so that every node of a cluster (all but surely) knows every script: a
// script's first use on a node costs a second round trip (NOSCRIPT, then
// EVAL), which round-trip counts should not see.
func warmScripts(t testing.TB, store *session.Store[cart]) {
	t.Helper()
	for i := range 64 {
		user := "warm-" + strconv.Itoa(i)
		sess, err := store.Create(background, user, cart{})
		if err != nil {
			t.Fatal(err)
		}
		// A create keeps nothing: the read script runs too.
		if _, err := store.Get(background, sess.Token); err != nil {
			t.Fatal(err)
		}
		if err := store.Save(background, sess); err != nil {
			t.Fatal(err)
		}
		if sess, err = store.Regenerate(background, sess); err != nil {
			t.Fatal(err)
		}
		if _, err := store.List(background, user); err != nil {
			t.Fatal(err)
		}
		if err := store.Revoke(background, user, sess.ID()); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(store.Destroy(background, sess.Token), store.DestroyAll(background, user)); err != nil && !errors.Is(err, session.ErrNotFound) {
			t.Fatal(err)
		}
	}
}

// readFromMemory reads token through store until store serves it from its
// local tier (events is store's Observer), at most ten times. A fresh
// cluster client may flush its subscribers while it opens its connections
// (rueidis reports a closed connection as "drop everything"), which keeps
// a read from entering the local tier; the next one does.
func readFromMemory(t testing.TB, store *session.Store[cart], events *eventLog, token string) {
	t.Helper()
	for range 10 {
		if _, err := store.Get(background, token); err != nil {
			t.Fatal(err)
		}
		if loads := events.take(); len(loads) > 0 && strings.HasSuffix(loads[len(loads)-1], "local=true") {
			return
		}
	}
	t.Fatal("no read was served from the local tier")
}

// flushWatch counts the times a client told its subscribers to drop
// everything.
type flushWatch struct{ n atomic.Int64 }

func (f *flushWatch) Invalidate(string) {}
func (f *flushWatch) InvalidateAll()    { f.n.Add(1) }

// watchFlushes returns a count of client's flushes from now on.
func watchFlushes(t testing.TB, client *typecache.Client) *flushWatch {
	f := &flushWatch{}
	t.Cleanup(client.Subscribe("\x00no key starts so", f))
	return f
}

// withoutFlush runs attempt until a run sees no flush of the client (at
// most five runs), then fails t with that run's error, if any. Claims about
// the local tier ("this read sends nothing") hold between flushes only.
func withoutFlush(t testing.TB, flushes *flushWatch, attempt func() error) {
	t.Helper()
	for range 5 {
		before := flushes.n.Load()
		err := attempt()
		if flushes.n.Load() == before {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("the client flushed its subscribers during each of five attempts")
}
