package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// TestNilAndEmptyArguments calls every entry point with the nil and empty
// arguments a caller can pass: each returns an error (or does nothing),
// none panics.
func TestNilAndEmptyArguments(t *testing.T) {
	store := newStore(t, redistest.Standalone(t), session.Options[cart]{})
	var nilCtx context.Context
	for _, tc := range []struct {
		name string
		call func() error
		want error // nil: any outcome but a panic
	}{
		{"Get empty token", func() error { _, err := store.Get(background, ""); return err }, session.ErrNotFound},
		{"Save nil", func() error { return store.Save(background, nil) }, session.ErrNotFound},
		{"Save zero Session", func() error { return store.Save(background, &session.Session[cart]{}) }, session.ErrNotFound},
		{"Regenerate nil", func() error { _, err := store.Regenerate(background, nil); return err }, session.ErrNotFound},
		{"Regenerate zero Session", func() error { _, err := store.Regenerate(background, &session.Session[cart]{}); return err }, session.ErrNotFound},
		{"Destroy empty token", func() error { return store.Destroy(background, "") }, session.ErrNotFound},
		{"DestroyAll empty user", func() error { return store.DestroyAll(background, "") }, session.ErrEmptyKey},
		{"Revoke empty user", func() error { return store.Revoke(background, "", "") }, session.ErrEmptyKey},
		{"Revoke empty ID", func() error { return store.Revoke(background, "alice", "") }, session.ErrNotFound},
		{"List empty user", func() error { _, err := store.List(background, ""); return err }, session.ErrEmptyKey},
		{"Put nil context", func() error { return store.Put(nilCtx, cart{}) }, session.ErrNoMiddleware},
		{"Start nil context", func() error { _, err := store.Start(nilCtx, "", cart{}); return err }, session.ErrNoMiddleware},
		{"Renew nil context", func() error { _, err := store.Renew(nilCtx); return err }, session.ErrNoMiddleware},
		{"End nil context", func() error { return store.End(nilCtx) }, session.ErrNoMiddleware},
		{"Current nil context", func() error {
			if store.Current(nilCtx) != nil {
				return errors.New("a session from a nil context")
			}
			return nil
		}, nil},
		{"Session zero ID", func() error {
			if (&session.Session[cart]{}).ID() != "" {
				return errors.New("a zero Session has an ID")
			}
			return nil
		}, nil},
		{"Middleware nil handler", func() error {
			rec := httptest.NewRecorder()
			store.Middleware(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != http.StatusInternalServerError {
				return errors.New("Middleware(nil) did not answer 500")
			}
			return nil
		}, nil},
		{"LogObserver nil logger", func() error {
			session.LogObserver(nil).OnRejected(session.RejectMalformed)
			return nil
		}, nil},
		{"Close twice", func() error { store.Close(); store.Close(); return nil }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); tc.want != nil && err != tc.want {
				t.Errorf("got %v, want %v", err, tc.want)
			} else if tc.want == nil && err != nil {
				t.Error(err)
			}
		})
	}
}
