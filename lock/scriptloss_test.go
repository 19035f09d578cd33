package lock_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
)

// TestFirstCallAfterScriptLoss: after a node forgets the lease scripts
// (SCRIPT FLUSH, a restart), the first acquire, extend and release succeed
// in about one extra round trip.
func TestFirstCallAfterScriptLoss(t *testing.T) {
	redistest.RunScriptLoss(t, func(t *testing.T, _ *redistest.Server, client *typecache.Client) []redistest.ScriptCall {
		ctx := context.Background()
		lk := newLocker(t, client, lock.Options{})
		acquire := func(r int) (*lock.Lock, error) { return lk.TryAcquire(ctx, "job"+strconv.Itoa(r)) }
		return []redistest.ScriptCall{
			{Name: "TryAcquire+Release", Call: func(r int) error {
				l, err := acquire(r)
				if err != nil {
					return err
				}
				return l.Release(ctx)
			}},
			{Name: "Extend", Call: func(r int) error {
				l, err := acquire(r)
				if err != nil {
					return err
				}
				if err := l.Extend(ctx, time.Minute); err != nil {
					return err
				}
				return l.Release(ctx)
			}},
		}
	})
}
