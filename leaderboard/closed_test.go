package leaderboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/closetest"
	"github.com/typecache/typecache/leaderboard"
)

// TestClosed: after the Board's Close or its Client's, every call of the
// board and of its At views fails with ErrClosed, Top too while its cache
// held the board.
func TestClosed(t *testing.T) {
	closetest.Run(t, leaderboard.ErrClosed, func(t *testing.T, c *typecache.Client) closetest.Instance {
		b := newBoard(t, c, leaderboard.Options{Period: leaderboard.Daily})
		add(t, b, "ann", 1)
		if _, err := b.Top(context.Background(), 10); err != nil { // cached
			t.Fatal(err)
		}
		view := b.At(time.Now())
		return closetest.Instance{
			Close: b.Close,
			Calls: closetest.Calls{
				"Add":         func(ctx context.Context) error { return b.Add(ctx, "bob", 2) },
				"AddIfBetter": func(ctx context.Context) error { _, err := b.AddIfBetter(ctx, "bob", 2); return err },
				"Incr":        func(ctx context.Context) error { _, err := b.Incr(ctx, "ann", 1); return err },
				"Score":       func(ctx context.Context) error { _, err := b.Score(ctx, "ann"); return err },
				"Rank":        func(ctx context.Context) error { _, err := b.Rank(ctx, "ann"); return err },
				"Top":         func(ctx context.Context) error { _, err := b.Top(ctx, 10); return err },
				"Page":        func(ctx context.Context) error { _, err := b.Page(ctx, 0, 10); return err },
				"Around":      func(ctx context.Context) error { _, err := b.Around(ctx, "ann", 2); return err },
				"Remove":      func(ctx context.Context) error { return b.Remove(ctx, "ann") },
				"Len":         func(ctx context.Context) error { _, err := b.Len(ctx); return err },
				"At.Add":      func(ctx context.Context) error { return view.Add(ctx, "bob", 2) },
				"At.Top":      func(ctx context.Context) error { _, err := view.Top(ctx, 10); return err },
			},
			ClientOnly: closetest.Calls{
				"New": func(context.Context) error {
					_, err := leaderboard.New(c, "closed", leaderboard.Options{TTL: time.Hour})
					return err
				},
			},
		}
	})
}
