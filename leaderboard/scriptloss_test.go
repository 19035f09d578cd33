package leaderboard_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
)

// TestFirstCallAfterScriptLoss: after a node forgets the boards' scripts
// (SCRIPT FLUSH, a restart), the first call of each script succeeds in
// about one extra round trip.
func TestFirstCallAfterScriptLoss(t *testing.T) {
	redistest.RunScriptLoss(t, func(t *testing.T, _ *redistest.Server, client *typecache.Client) []redistest.ScriptCall {
		ctx := context.Background()
		board := newBoard(t, client, leaderboard.Options{})
		member := func(r int) string { return "m" + strconv.Itoa(r) }
		// added runs call on a member Incr has just added.
		added := func(call func(member string) error) func(r int) error {
			return func(r int) error {
				if _, err := board.Incr(ctx, member(r), 1); err != nil {
					return err
				}
				return call(member(r))
			}
		}
		return []redistest.ScriptCall{
			{Name: "Add", Call: func(r int) error { return board.Add(ctx, member(r), float64(r)) }},
			{Name: "Incr", Call: added(func(string) error { return nil })},
			{Name: "Rank", Call: added(func(m string) error { _, err := board.Rank(ctx, m); return err })},
			{Name: "Around", Call: added(func(m string) error { _, err := board.Around(ctx, m, 2); return err })},
			{Name: "Remove", Call: added(func(m string) error { return board.Remove(ctx, m) })},
		}
	})
}
