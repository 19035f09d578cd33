package leaderboard_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/testkit/testclock"
	"github.com/typecache/typecache/leaderboard"
)

// trims counts the members the observer hears were trimmed.
type trims struct {
	leaderboard.NoopObserver
	removed      atomic.Int64
	cached, read atomic.Int64
}

func (o *trims) OnTrim(n int) { o.removed.Add(int64(n)) }

func (o *trims) OnTop(cached bool) {
	if cached {
		o.cached.Add(1)
	} else {
		o.read.Add(1)
	}
}

// TestMaxSizeTrimsLastRanked: a full board drops the worst score, and
// among equal worst scores the latest to reach it, in both orders.
func TestMaxSizeTrimsLastRanked(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		for _, tc := range []struct {
			order            leaderboard.Order
			worst, mid, best float64
		}{{leaderboard.HighestFirst, 1, 5, 9}, {leaderboard.LowestFirst, 9, 5, 1}} {
			t.Run(tc.order.String(), func(t *testing.T) {
				obs := &trims{}
				b := newBoard(t, s.Client(t), leaderboard.Options{Order: tc.order, MaxSize: 3, Observer: obs})
				add(t, b, "early", tc.worst)
				add(t, b, "mid", tc.mid)
				add(t, b, "late", tc.worst)
				add(t, b, "best", tc.best) // 4 members: "late" goes
				top, err := b.Top(background, 10)
				if err != nil {
					t.Fatal(err)
				}
				if want := []string{"best", "mid", "early"}; !slices.Equal(members(top), want) {
					t.Fatalf("board %v, want %v", members(top), want)
				}
				if _, err := b.Score(background, "late"); !errors.Is(err, leaderboard.ErrNotFound) {
					t.Fatalf("trimmed member: %v, want ErrNotFound", err)
				}
				if obs.removed.Load() != 1 {
					t.Fatalf("observer heard %d trimmed, want 1", obs.removed.Load())
				}
				// A new member that ranks last is dropped at once.
				if changed, err := b.AddIfBetter(background, "worse", tc.worst); err != nil || !changed {
					t.Fatalf("AddIfBetter = %v, %v", changed, err)
				}
				if _, err := b.Rank(background, "worse"); !errors.Is(err, leaderboard.ErrNotFound) {
					t.Fatalf("a last-ranked newcomer on a full board: %v, want ErrNotFound", err)
				}
			})
		}
	})
}

// TestMaxSizeUnderConcurrentWriters: 8 goroutines on 2 clients add 400
// members with distinct scores to a board of 50 while a reader watches
// Len; the board never exceeds 50 and ends with exactly the best 50.
func TestMaxSizeUnderConcurrentWriters(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		const max, total, writers = 50, 400, 8
		name := redistest.Name(t)
		boards := make([]*leaderboard.Board, 2)
		for i := range boards {
			b, err := leaderboard.New(s.Client(t), name, leaderboard.Options{MaxSize: max, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			boards[i] = b
		}
		var wg sync.WaitGroup
		var next atomic.Int64
		for w := range writers {
			wg.Go(func() {
				b := boards[w%2]
				for {
					i := next.Add(1) - 1
					if i >= total {
						return
					}
					// scores spread so that arrival order and score differ
					score := float64((i * 7919) % total)
					var err error
					if i%2 == 0 {
						err = b.Add(background, "m"+strconv.FormatInt(i, 10), score)
					} else {
						_, err = b.Incr(background, "m"+strconv.FormatInt(i, 10), score)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		done := make(chan struct{})
		var readerErr error
		go func() {
			defer close(done)
			for next.Load() < total {
				n, err := boards[0].Len(background)
				if err == nil && n > max {
					err = fmt.Errorf("Len = %d during the writes, above MaxSize %d", n, max)
				}
				if err != nil {
					readerErr = err
					return
				}
			}
		}()
		wg.Wait()
		<-done
		if readerErr != nil {
			t.Fatal(readerErr)
		}
		top, err := boards[1].Top(background, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(top) != max {
			t.Fatalf("board holds %d, want %d", len(top), max)
		}
		for i, e := range top {
			if want := float64(total - 1 - i); e.Score != want {
				t.Fatalf("entry %d has score %v, want %v: not the best %d", i, e.Score, want, max)
			}
		}
		set, hash := leaderboard.Keys(boards[0])
		raw := s.Raw(t)
		if n, err := raw.Do(background, raw.B().Hlen().Key(hash).Build()).AsInt64(); err != nil || n != max+1 {
			t.Fatalf("hash of %s holds %d fields, %v; want %d members + the arrival counter", set, n, err, max)
		}
	})
}

// TestExpiry: an AllTime board's TTL slides with writes; a Persistent
// board has none; a periodic board expires TTL after its period ends.
func TestExpiry(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		raw := s.Raw(t)
		expiry := func(t *testing.T, b *leaderboard.Board) (pttl [2]int64, at [2]int64) {
			t.Helper()
			set, hash := leaderboard.Keys(b)
			for i, key := range []string{set, hash} {
				var err error
				if pttl[i], err = raw.Do(background, raw.B().Pttl().Key(key).Build()).AsInt64(); err != nil {
					t.Fatal(err)
				}
				if at[i], err = raw.Do(background, raw.B().Pexpiretime().Key(key).Build()).AsInt64(); err != nil {
					t.Fatal(err)
				}
			}
			return pttl, at
		}
		t.Run("all-time", func(t *testing.T) {
			b := newBoard(t, s.Client(t), leaderboard.Options{TTL: time.Hour})
			add(t, b, "a", 1)
			set, _ := leaderboard.Keys(b)
			if err := raw.Do(background, raw.B().Pexpire().Key(set).Milliseconds(1000).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Incr(background, "a", 1); err != nil {
				t.Fatal(err)
			}
			for _, ms := range mustPTTL(expiry(t, b)) {
				if ms <= time.Minute.Milliseconds() || ms > time.Hour.Milliseconds() {
					t.Fatalf("PTTL %d ms after a write, want the TTL again (1h)", ms)
				}
			}
		})
		t.Run("persistent", func(t *testing.T) {
			b := newBoard(t, s.Client(t), leaderboard.Options{Persistent: true})
			add(t, b, "a", 1)
			for _, ms := range mustPTTL(expiry(t, b)) {
				if ms != -1 {
					t.Fatalf("PTTL %d on a Persistent board, want -1", ms)
				}
			}
		})
		t.Run("daily", func(t *testing.T) {
			paris, err := time.LoadLocation("Europe/Paris")
			if err != nil {
				t.Skip("no time zone data:", err)
			}
			b := newBoard(t, s.Client(t), leaderboard.Options{TTL: 48 * time.Hour, Period: leaderboard.Daily, Location: paris})
			clock := testclock.New(time.Now().In(paris))
			leaderboard.SetClock(b, clock.Now)
			add(t, b, "a", 1)
			y, m, d := clock.Now().Date()
			want := time.Date(y, m, d+1, 0, 0, 0, 0, paris).Add(48 * time.Hour).UnixMilli()
			if _, at := expiry(t, b); at[0] != want || at[1] != want {
				t.Fatalf("keys expire at %v, want midnight + 48h = %d", at, want)
			}
			// Yesterday's board, read and written through At, is another board.
			yesterday := b.At(clock.Now().AddDate(0, 0, -1))
			add(t, yesterday, "b", 2)
			if n, err := b.Len(background); err != nil || n != 1 {
				t.Fatalf("today's board: Len %d, %v", n, err)
			}
			if top, err := yesterday.Top(background, 5); err != nil || !slices.Equal(members(top), []string{"b"}) {
				t.Fatalf("yesterday's board: %v, %v", top, err)
			}
			// Three days later, the board of three days ago is over for writes.
			clock.Advance(72 * time.Hour)
			if err := b.At(clock.Now().AddDate(0, 0, -3)).Add(background, "c", 1); !errors.Is(err, leaderboard.ErrPeriodOver) {
				t.Fatalf("write to a board past its TTL: %v, want ErrPeriodOver", err)
			}
			if n, err := b.Len(background); err != nil || n != 0 {
				t.Fatalf("a new day's board: Len %d, %v; want 0", n, err)
			}
		})
	})
}

func mustPTTL(pttl, _ [2]int64) [2]int64 { return pttl }
