package leaderboard_test

import (
	"strconv"
	"testing"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
)

// BenchmarkBoard measures each call on a board of 100 members on the shared
// standalone server: the writes and Score, Around, Page and Len make one
// round trip each, Top none when its cache answers. The allocations per
// call are what a change of the round-trip path must keep.
func BenchmarkBoard(b *testing.B) {
	client := redistest.Standalone(b).Client(b)
	board := newBoard(b, client, leaderboard.Options{})
	for i := range 100 {
		if err := board.Add(background, "m"+strconv.Itoa(i), float64(i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		call func() error
	}{
		{"Add", func() error { return board.Add(background, "m1", 1) }},
		{"Incr", func() error { _, err := board.Incr(background, "m2", 1); return err }},
		{"Score", func() error { _, err := board.Score(background, "m50"); return err }},
		{"Around-5", func() error { _, err := board.Around(background, "m50", 5); return err }},
		{"Top-10-cached", func() error { _, err := board.Top(background, 10); return err }},
		{"Page-10", func() error { _, err := board.Page(background, 10, 10); return err }},
		{"Len", func() error { _, err := board.Len(background); return err }},
		{"Remove", func() error { return board.Remove(background, "absent") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
