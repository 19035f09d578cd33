package session_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// TestFirstCallAfterScriptLoss: after a node forgets the stores' scripts
// (SCRIPT FLUSH, a restart), the first call of each script succeeds in
// about one extra round trip.
func TestFirstCallAfterScriptLoss(t *testing.T) {
	redistest.RunScriptLoss(t, func(t *testing.T, _ *redistest.Server, client *typecache.Client) []redistest.ScriptCall {
		ctx := context.Background()
		store := newStoreOn(t, client, session.Options[cart]{DisableLocal: true})
		create := func(r int) (*session.Session[cart], error) { return store.Create(ctx, "user"+strconv.Itoa(r), cart{}) }
		return []redistest.ScriptCall{
			{Name: "Create", Call: func(r int) error { _, err := create(r); return err }},
			{Name: "Get", Call: func(r int) error {
				sess, err := create(r)
				if err != nil {
					return err
				}
				_, err = store.Get(ctx, sess.Token)
				return err
			}},
			{Name: "Save", Call: func(r int) error {
				sess, err := create(r)
				if err != nil {
					return err
				}
				return store.Save(ctx, sess)
			}},
			{Name: "Destroy", Call: func(r int) error {
				sess, err := create(r)
				if err != nil {
					return err
				}
				return store.Destroy(ctx, sess.Token)
			}},
			{Name: "DestroyAll", Call: func(r int) error {
				sess, err := create(r)
				if err != nil {
					return err
				}
				return store.DestroyAll(ctx, sess.UserID)
			}},
		}
	})
}
