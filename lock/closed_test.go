package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/closetest"
	"github.com/typecache/typecache/lock"
)

// TestClosed: after the Locker's Close or its Client's, every call fails
// with ErrClosed; a held lock stays releasable until the Client closes.
func TestClosed(t *testing.T) {
	closetest.Run(t, lock.ErrClosed, func(t *testing.T, c *typecache.Client) closetest.Instance {
		lk := newLocker(t, c, lock.Options{})
		held, err := lk.TryAcquire(context.Background(), "held")
		if err != nil {
			t.Fatal(err)
		}
		return closetest.Instance{
			Close: lk.Close,
			Calls: closetest.Calls{
				"Acquire":    func(ctx context.Context) error { _, err := lk.Acquire(ctx, "free"); return err },
				"TryAcquire": func(ctx context.Context) error { _, err := lk.TryAcquire(ctx, "free"); return err },
			},
			ClientOnly: closetest.Calls{
				"Lock.Extend":  func(ctx context.Context) error { return held.Extend(ctx, time.Second) },
				"Lock.Release": held.Release,
				"New":          func(context.Context) error { _, err := lock.New(c, lock.Options{}); return err },
			},
		}
	})
}
