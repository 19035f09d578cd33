package leaderboard_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var background = context.Background()

// newBoard returns a board with a name unique to t; a zero TTL becomes an
// hour.
func newBoard(t testing.TB, c *typecache.Client, opts leaderboard.Options) *leaderboard.Board {
	t.Helper()
	if opts.TTL == 0 && !opts.Persistent {
		opts.TTL = time.Hour
	}
	b, err := leaderboard.New(c, redistest.Name(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func add(t *testing.T, b *leaderboard.Board, member string, score float64) {
	t.Helper()
	if err := b.Add(background, member, score); err != nil {
		t.Fatalf("Add(%q, %v): %v", member, score, err)
	}
}

func members(entries []leaderboard.Entry) []string {
	m := make([]string, len(entries))
	for i, e := range entries {
		m[i] = e.Member
	}
	return m
}

func TestInvalidOptions(t *testing.T) {
	client := redistest.Standalone(t).Client(t)
	ok := leaderboard.Options{TTL: time.Hour}
	with := func(change func(o *leaderboard.Options)) leaderboard.Options {
		o := ok
		change(&o)
		return o
	}
	for _, tc := range []struct {
		name, field string
		client      *typecache.Client
		board       string
		opts        leaderboard.Options
	}{
		{"nil client", "*typecache.Client", nil, "a", ok},
		{"empty name", "name", client, "", ok},
		{"name with colon", "name", client, "a:b", ok},
		{"name with brace", "name", client, "{a}", ok},
		{"no TTL", "Options.TTL", client, "a", leaderboard.Options{}},
		{"TTL below 1ms", "Options.TTL", client, "a", with(func(o *leaderboard.Options) { o.TTL = time.Microsecond })},
		{"TTL and Persistent", "Options.TTL", client, "a", with(func(o *leaderboard.Options) { o.Persistent = true })},
		{"unknown Order", "Options.Order", client, "a", with(func(o *leaderboard.Options) { o.Order = 2 })},
		{"unknown Period", "Options.Period", client, "a", with(func(o *leaderboard.Options) { o.Period = -1 })},
		{"negative MaxSize", "Options.MaxSize", client, "a", with(func(o *leaderboard.Options) { o.MaxSize = -1 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := leaderboard.New(tc.client, tc.board, tc.opts)
			if !errors.Is(err, leaderboard.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want ErrInvalidOptions naming %s", err, tc.field)
			}
		})
	}
	b, err := leaderboard.New(client, "a", leaderboard.Options{Persistent: true})
	if err != nil {
		t.Fatalf("Persistent without TTL: %v", err)
	}
	b.Close()
	if o := b.Options(); o.MaxSize != leaderboard.DefaultMaxSize || o.Location != time.UTC || o.Observer == nil {
		t.Fatalf("defaults not filled in: %+v", o)
	}
}

// TestBadInput: every method refuses bad input with a clear error.
func TestBadInput(t *testing.T) {
	b := newBoard(t, redistest.Standalone(t).Client(t), leaderboard.Options{})
	for _, tc := range []struct {
		name string
		want error
		call func() error
	}{
		{"Add empty member", leaderboard.ErrEmptyKey, func() error { return b.Add(background, "", 1) }},
		{"Add NaN", leaderboard.ErrInvalidScore, func() error { return b.Add(background, "a", math.NaN()) }},
		{"Add +Inf", leaderboard.ErrInvalidScore, func() error { return b.Add(background, "a", math.Inf(1)) }},
		{"Add -Inf", leaderboard.ErrInvalidScore, func() error { return b.Add(background, "a", math.Inf(-1)) }},
		{"AddIfBetter NaN", leaderboard.ErrInvalidScore, func() error { _, err := b.AddIfBetter(background, "a", math.NaN()); return err }},
		{"Incr empty member", leaderboard.ErrEmptyKey, func() error { _, err := b.Incr(background, "", 1); return err }},
		{"Incr NaN", leaderboard.ErrInvalidScore, func() error { _, err := b.Incr(background, "a", math.NaN()); return err }},
		{"Incr Inf", leaderboard.ErrInvalidScore, func() error { _, err := b.Incr(background, "a", math.Inf(1)); return err }},
		{"Score empty", leaderboard.ErrEmptyKey, func() error { _, err := b.Score(background, ""); return err }},
		{"Rank empty", leaderboard.ErrEmptyKey, func() error { _, err := b.Rank(background, ""); return err }},
		{"Top 0", leaderboard.ErrInvalidCount, func() error { _, err := b.Top(background, 0); return err }},
		{"Top -1", leaderboard.ErrInvalidCount, func() error { _, err := b.Top(background, -1); return err }},
		{"Page n 0", leaderboard.ErrInvalidCount, func() error { _, err := b.Page(background, 0, 0); return err }},
		{"Page offset -1", leaderboard.ErrInvalidCount, func() error { _, err := b.Page(background, -1, 5); return err }},
		{"Around n 0", leaderboard.ErrInvalidCount, func() error { _, err := b.Around(background, "a", 0); return err }},
		{"Around empty", leaderboard.ErrEmptyKey, func() error { _, err := b.Around(background, "", 1); return err }},
		{"Remove empty", leaderboard.ErrEmptyKey, func() error { return b.Remove(background, "a", "") }},
		{"Score absent", leaderboard.ErrNotFound, func() error { _, err := b.Score(background, "nobody"); return err }},
		{"Rank absent", leaderboard.ErrNotFound, func() error { _, err := b.Rank(background, "nobody"); return err }},
		{"Around absent", leaderboard.ErrNotFound, func() error { _, err := b.Around(background, "nobody", 2); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if n, err := b.Len(background); err != nil || n != 0 {
		t.Fatalf("after only bad input, Len = %d, %v; want 0", n, err)
	}
	if err := b.Remove(background); err != nil {
		t.Fatalf("Remove of nothing: %v", err)
	}
}

func TestBoard(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		for _, tc := range []struct {
			order leaderboard.Order
			want  []string // best first
		}{
			{leaderboard.HighestFirst, []string{"carol", "alice", "dave", "bob"}},
			{leaderboard.LowestFirst, []string{"bob", "dave", "alice", "carol"}},
		} {
			t.Run(tc.order.String(), func(t *testing.T) {
				b := newBoard(t, s.Client(t), leaderboard.Options{Order: tc.order})
				add(t, b, "alice", 30)
				add(t, b, "bob", 10)
				add(t, b, "carol", 50)
				if got, err := b.Incr(background, "dave", 20.5); err != nil || got != 20.5 {
					t.Fatalf("Incr of a new member = %v, %v", got, err)
				}
				top, err := b.Top(background, 10)
				if err != nil {
					t.Fatal(err)
				}
				if got := members(top); !slices.Equal(got, tc.want) {
					t.Fatalf("Top = %v, want %v", got, tc.want)
				}
				for i, e := range top {
					if e.Rank != int64(i+1) {
						t.Errorf("Top[%d].Rank = %d, want %d (1-based)", i, e.Rank, i+1)
					}
					if r, err := b.Rank(background, e.Member); err != nil || r != e.Rank {
						t.Errorf("Rank(%q) = %d, %v; want %d", e.Member, r, err, e.Rank)
					}
					if sc, err := b.Score(background, e.Member); err != nil || sc != e.Score {
						t.Errorf("Score(%q) = %v, %v; want %v", e.Member, sc, err, e.Score)
					}
				}
				if got, err := b.Top(background, 2); err != nil || !slices.Equal(members(got), tc.want[:2]) {
					t.Fatalf("Top(2) = %v, %v", got, err)
				}
				if got, err := b.Page(background, 1, 2); err != nil || !slices.Equal(members(got), tc.want[1:3]) || got[0].Rank != 2 {
					t.Fatalf("Page(1, 2) = %v, %v", got, err)
				}
				if got, err := b.Page(background, 10, 2); err != nil || len(got) != 0 {
					t.Fatalf("Page past the end = %v, %v", got, err)
				}
				if got, err := b.Around(background, tc.want[0], 1); err != nil || !slices.Equal(members(got), tc.want[:2]) {
					t.Fatalf("Around the first = %v, %v", got, err)
				}
				if got, err := b.Around(background, tc.want[2], 1); err != nil || !slices.Equal(members(got), tc.want[1:4]) || got[0].Rank != 2 {
					t.Fatalf("Around the third = %v, %v", got, err)
				}
				if n, err := b.Len(background); err != nil || n != 4 {
					t.Fatalf("Len = %d, %v", n, err)
				}
				if err := b.Remove(background, "carol", "nobody", "bob"); err != nil {
					t.Fatal(err)
				}
				if n, err := b.Len(background); err != nil || n != 2 {
					t.Fatalf("Len after Remove = %d, %v", n, err)
				}
				if _, err := b.Score(background, "carol"); !errors.Is(err, leaderboard.ErrNotFound) {
					t.Fatalf("Score of a removed member: %v", err)
				}
				add(t, b, "carol", 1) // comes back as a new member
				if sc, err := b.Score(background, "carol"); err != nil || sc != 1 {
					t.Fatalf("Score after re-adding = %v, %v", sc, err)
				}
			})
		}
	})
}

// TestMembersAnyBytes: members with braces, colons, digits that look like
// tie codes and binary bytes come back as they went in.
func TestMembersAnyBytes(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		b := newBoard(t, s.Client(t), leaderboard.Options{})
		names := []string{"{x}", "a:b", "0000000000000001x", "\x00\xff", "é", strings.Repeat("m", 300)}
		for i, m := range names {
			add(t, b, m, float64(i))
		}
		top, err := b.Top(background, 10)
		if err != nil {
			t.Fatal(err)
		}
		got := members(top)
		slices.Reverse(got)
		if !slices.Equal(got, names) {
			t.Fatalf("members %q, want %q", got, names)
		}
	})
}

// TestScoresExact: scores are float64 values, exact, including the sums
// Incr computes.
func TestScoresExact(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		b := newBoard(t, s.Client(t), leaderboard.Options{})
		for _, score := range []float64{0.1, 1e300, -1e-300, math.MaxFloat64, -math.MaxFloat64, 1<<53 + 2, math.SmallestNonzeroFloat64, 0} {
			add(t, b, "m", score)
			if got, err := b.Score(background, "m"); err != nil || got != score {
				t.Errorf("Score after Add(%v) = %v, %v", score, got, err)
			}
		}
		want := 0.0
		add(t, b, "sum", 0)
		for _, d := range []float64{0.1, 0.2, 1e-17, 3.3, -0.7, 1e16, 1} {
			want += d
			if got, err := b.Incr(background, "sum", d); err != nil || got != want {
				t.Fatalf("Incr(%v) = %v, %v; want %v", d, got, err, want)
			}
		}
		if got, err := b.Score(background, "sum"); err != nil || got != want {
			t.Fatalf("Score = %v, %v; want %v", got, err, want)
		}
		// A sum past float64 is refused and the score kept.
		add(t, b, "big", math.MaxFloat64)
		if _, err := b.Incr(background, "big", math.MaxFloat64); !errors.Is(err, leaderboard.ErrInvalidScore) {
			t.Fatalf("Incr past float64: %v, want ErrInvalidScore", err)
		}
		if got, err := b.Score(background, "big"); err != nil || got != math.MaxFloat64 {
			t.Fatalf("Score after the refused Incr = %v, %v", got, err)
		}
	})
}

// TestTies: equal scores rank by who reached the score first, in both
// orders, whether by Add, Incr or AddIfBetter; a write that does not change
// a score keeps the member's place.
func TestTies(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		for _, order := range []leaderboard.Order{leaderboard.HighestFirst, leaderboard.LowestFirst} {
			t.Run(order.String(), func(t *testing.T) {
				b := newBoard(t, s.Client(t), leaderboard.Options{Order: order})
				add(t, b, "first", 100)
				add(t, b, "second", 100)
				add(t, b, "climber", 90)
				if _, err := b.Incr(background, "climber", 10); err != nil { // reaches 100 third
					t.Fatal(err)
				}
				add(t, b, "first", 100) // no change: keeps its place
				if _, err := b.AddIfBetter(background, "fourth", 100); err != nil {
					t.Fatal(err)
				}
				want := []string{"first", "second", "climber", "fourth"}
				for _, read := range []func() ([]leaderboard.Entry, error){
					func() ([]leaderboard.Entry, error) { return b.Top(background, 10) },
					func() ([]leaderboard.Entry, error) { return b.Page(background, 0, 10) },
					func() ([]leaderboard.Entry, error) { return b.Around(background, "second", 5) },
				} {
					got, err := read()
					if err != nil || !slices.Equal(members(got), want) {
						t.Fatalf("order %v, %v; want %v", members(got), err, want)
					}
				}
				// "second" leaves 100 and comes back: now it arrived last.
				if _, err := b.Incr(background, "second", 1); err != nil {
					t.Fatal(err)
				}
				if _, err := b.Incr(background, "second", -1); err != nil {
					t.Fatal(err)
				}
				if got, err := b.Rank(background, "second"); err != nil || got != 4 {
					t.Fatalf("Rank of the latest to reach 100 = %d, %v; want 4", got, err)
				}
			})
		}
	})
}

// TestAddIfBetter keeps each member's best score, in both orders.
func TestAddIfBetter(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		for _, tc := range []struct {
			order  leaderboard.Order
			better float64
			worse  float64
		}{{leaderboard.HighestFirst, 20, 5}, {leaderboard.LowestFirst, 5, 20}} {
			t.Run(tc.order.String(), func(t *testing.T) {
				b := newBoard(t, s.Client(t), leaderboard.Options{Order: tc.order})
				for _, step := range []struct {
					score   float64
					changed bool
					best    float64
				}{{10, true, 10}, {tc.worse, false, 10}, {10, false, 10}, {tc.better, true, tc.better}} {
					changed, err := b.AddIfBetter(background, "m", step.score)
					if err != nil || changed != step.changed {
						t.Fatalf("AddIfBetter(%v) = %v, %v; want %v", step.score, changed, err, step.changed)
					}
					if got, err := b.Score(background, "m"); err != nil || got != step.best {
						t.Fatalf("best after %v = %v, %v; want %v", step.score, got, err, step.best)
					}
				}
			})
		}
	})
}

// TestRanksConsistent: on a board of 200 members with many ties, Rank,
// Score, Top, Page and Around agree with one listing.
func TestRanksConsistent(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		b := newBoard(t, s.Client(t), leaderboard.Options{})
		const n = 200
		for i := range n {
			add(t, b, "m"+strconv.Itoa(i), float64((i*37)%23))
		}
		var all []leaderboard.Entry
		for offset := 0; ; offset += 30 {
			page, err := b.Page(background, offset, 30)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
		}
		if len(all) != n {
			t.Fatalf("pages hold %d entries, want %d", len(all), n)
		}
		for i, e := range all {
			if e.Rank != int64(i+1) {
				t.Fatalf("entry %d has Rank %d", i, e.Rank)
			}
			if i > 0 && all[i-1].Score < e.Score {
				t.Fatalf("entry %d (%v) ranks after a lower score (%v)", i, e.Score, all[i-1].Score)
			}
			if i > 0 && all[i-1].Score == e.Score {
				// arrival order: m<k> was added k-th
				prev, _ := strconv.Atoi(all[i-1].Member[1:])
				cur, _ := strconv.Atoi(e.Member[1:])
				if prev > cur {
					t.Fatalf("tie at %v: %s ranks before %s, who arrived first", e.Score, all[i-1].Member, e.Member)
				}
			}
		}
		top, err := b.Top(background, 25)
		if err != nil || !slices.Equal(top, all[:25]) {
			t.Fatalf("Top(25) differs from the first page: %v, %v", top, err)
		}
		for _, i := range []int{0, 1, 57, 100, 198, 199} {
			e := all[i]
			if r, err := b.Rank(background, e.Member); err != nil || r != e.Rank {
				t.Fatalf("Rank(%s) = %d, %v; want %d", e.Member, r, err, e.Rank)
			}
			around, err := b.Around(background, e.Member, 3)
			if err != nil {
				t.Fatal(err)
			}
			if want := all[max(0, i-3):min(n, i+4)]; !slices.Equal(around, want) {
				t.Fatalf("Around(%s, 3) = %v, want %v", e.Member, around, want)
			}
		}
	})
}

// TestRESP2 reads ranges over a client that speaks RESP2, whose ZRANGE
// WITHSCORES replies are flat member, score arrays instead of RESP3's
// pairs: they must read the same.
func TestRESP2(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		opt := s.Option()
		opt.AlwaysRESP2, opt.DisableCache = true, true // no tracking without RESP3
		c, err := typecache.NewClient(opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		b := newBoard(t, c, leaderboard.Options{})
		for i, m := range []string{"a", "b", "c", "d"} {
			add(t, b, m, float64(10*i)+0.25)
		}
		top, err := b.Top(background, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := []leaderboard.Entry{{Member: "d", Score: 30.25, Rank: 1}, {Member: "c", Score: 20.25, Rank: 2}, {Member: "b", Score: 10.25, Rank: 3}}
		if !slices.Equal(top, want) {
			t.Fatalf("Top over RESP2 = %v, want %v", top, want)
		}
		around, err := b.Around(background, "a", 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := members(around); !slices.Equal(got, []string{"b", "a"}) {
			t.Fatalf("Around over RESP2 = %v, want [b a]", got)
		}
	})
}
