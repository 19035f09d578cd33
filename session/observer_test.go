package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// eventLog records what an Observer hears, one line per event.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	events := l.events
	l.events = nil
	return events
}

func (l *eventLog) OnCreated(e session.Event) { l.add("created %s %s", e.UserID, e.ID) }
func (l *eventLog) OnLoaded(e session.Event, local bool) {
	l.add("loaded %s %s local=%v", e.UserID, e.ID, local)
}
func (l *eventLog) OnSaved(e session.Event)    { l.add("saved %s %s", e.UserID, e.ID) }
func (l *eventLog) OnConflict(e session.Event) { l.add("conflict %s %s", e.UserID, e.ID) }
func (l *eventLog) OnRegenerated(e session.Event, oldID string) {
	l.add("regenerated %s %s from %s", e.UserID, e.ID, oldID)
}
func (l *eventLog) OnDestroyed(e session.Event) { l.add("destroyed %s %s", e.UserID, e.ID) }
func (l *eventLog) OnDestroyedAll(userID string, n int) {
	l.add("destroyed all %s %d", userID, n)
}
func (l *eventLog) OnRejected(r session.RejectReason) { l.add("rejected %s", r) }
func (l *eventLog) OnError(op string, err error)      { l.add("error %s", op) }

func TestObserver(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		events := &eventLog{}
		client := srv.Client(t)
		flushes := watchFlushes(t, client)
		store := newStoreOn(t, client, session.Options[cart]{Observer: events})
		expect := func(name string, err error, want ...string) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if diff := cmp.Diff(want, events.take()); diff != "" {
				t.Errorf("%s: events (-want +got):\n%s", name, diff)
			}
		}
		a, err := store.Create(background, "alice", cart{})
		expect("Create", err, "created alice "+a.ID())
		// A create keeps nothing: the first read goes to Redis.
		stale, err := store.Get(background, a.Token)
		expect("Get from Redis", err, "loaded alice "+a.ID()+" local=false")
		withoutFlush(t, flushes, func() error {
			readFromMemory(t, store, events, a.Token)
			_, err := store.Get(background, a.Token)
			if got := events.take(); err != nil || len(got) != 1 || got[0] != "loaded alice "+a.ID()+" local=true" {
				return fmt.Errorf("Get from memory: %v, events %v", err, got)
			}
			return nil
		})
		expect("Save", store.Save(background, a), "saved alice "+a.ID())
		expect("Save of a stale copy", is(store.Save(background, stale), session.ErrConflict), "conflict alice "+a.ID())
		renewed, err := store.Regenerate(background, a)
		expect("Regenerate", err, "regenerated alice "+renewed.ID()+" from "+a.ID())
		_, err = store.Get(background, a.Token)
		expect("Get of the old token", is(err, session.ErrNotFound), "rejected unknown")
		_, err = store.Get(background, "x")
		expect("Get of a malformed token", is(err, session.ErrNotFound), "rejected malformed")
		expect("Destroy", store.Destroy(background, renewed.Token), "destroyed alice "+renewed.ID())
		for range 2 {
			if _, err := store.Create(background, "bob", cart{}); err != nil {
				t.Fatal(err)
			}
		}
		events.take()
		expect("DestroyAll", store.DestroyAll(background, "bob"), "destroyed all bob 2")
		ctx, cancel := context.WithCancel(background)
		cancel()
		_, err = store.Get(ctx, wellFormed)
		expect("Get with Redis unreachable", is(err, context.Canceled), "error get")
	})
}

// is returns nil when err is target, and an error saying so otherwise.
func is(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return fmt.Errorf("got %v, want %v", err, target)
}

// TestLogObserverNeverLogsAToken runs a session's whole life through the
// middleware and the store with LogObserver at Debug, and then checks that
// the log names users and sessions but holds no token (nor any token's
// secret part).
func TestLogObserverNeverLogsAToken(t *testing.T) {
	srv := redistest.Standalone(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := newStore(t, srv, session.Options[cart]{Observer: session.LogObserver(logger)})
	h := app(store)
	var tokens []string
	login := sessionCookie(t, do(t, h, background, "/login?user=alice", ""))
	tokens = append(tokens, login.Value)
	cookie := sessionCookieName + "=" + login.Value
	do(t, h, background, "/add?item=x", cookie)
	do(t, h, background, "/view", cookie)
	promoted := sessionCookie(t, do(t, h, background, "/promote", cookie))
	tokens = append(tokens, promoted.Value)
	do(t, h, background, "/view", cookie) // the replaced token: rejected
	do(t, h, background, "/logout", sessionCookieName+"="+promoted.Value)
	do(t, h, background, "/view", sessionCookieName+"=not-a-token")
	if err := store.DestroyAll(background, "alice"); err != nil {
		t.Fatal(err)
	}
	log := buf.String()
	for _, want := range []string{`"msg":"session created"`, `"msg":"session loaded"`, `"msg":"session saved"`, `"msg":"session regenerated"`,
		`"msg":"session destroyed"`, `"msg":"all sessions destroyed"`, `"reason":"unknown"`, `"reason":"malformed"`, `"user":"alice"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	for _, token := range tokens {
		if strings.Contains(log, token[strings.IndexByte(token, '.')+1:]) {
			t.Errorf("log holds a token: %s", token)
		}
	}
}

// TestDefaultErrorHandlerLogs: a request that fails on Redis is logged
// through slog's default logger (with the error, never a token) and
// answered with a bare 500.
func TestDefaultErrorHandlerLogs(t *testing.T) {
	var buf bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	store := newStore(t, redistest.Standalone(t), session.Options[cart]{FailureMode: session.FailRequest})
	ctx, cancel := context.WithCancel(background)
	cancel()
	resp := do(t, app(store), ctx, "/view", sessionCookieName+"="+wellFormed)
	if resp.StatusCode != http.StatusInternalServerError || strings.TrimSpace(body(t, resp)) != "Internal Server Error" {
		t.Errorf("status %d: want a bare 500", resp.StatusCode)
	}
	log := buf.String()
	if !strings.Contains(log, "session: request failed") || !strings.Contains(log, "context canceled") || !strings.Contains(log, "path=/view") {
		t.Errorf("log %q: want the failure with its cause and path", log)
	}
	if strings.Contains(log, wellFormed[23:]) {
		t.Errorf("log holds the token: %q", log)
	}
}
