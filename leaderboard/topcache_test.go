package leaderboard_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
)

// warmTop calls Top until the local cache answers it: a new connection (the
// first tracked read on a node) drops everything once, so the first read
// may not be cached.
func warmTop(t *testing.T, b *leaderboard.Board, obs *trims, n int) {
	t.Helper()
	redistest.Eventually(t, 5*time.Second, func() error {
		before := obs.cached.Load()
		if _, err := b.Top(background, n); err != nil {
			t.Fatal(err)
		}
		if obs.cached.Load() == before {
			return fmt.Errorf("Top(%d) not served from the cache", n)
		}
		return nil
	})
}

// TestTopCache: Top is served locally until the board changes; this
// process's own writes are seen at once; another process's after its
// invalidation arrives; a smaller Top is served from a larger one.
func TestTopCache(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		obs := &trims{}
		name := redistest.Name(t)
		b, err := leaderboard.New(s.Client(t), name, leaderboard.Options{TTL: time.Hour, Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		for i := range 5 {
			add(t, b, "m"+strconv.Itoa(i), float64(i))
		}
		warmTop(t, b, obs, 3)
		cached := obs.cached.Load()
		if top, err := b.Top(background, 2); err != nil || !slices.Equal(members(top), []string{"m4", "m3"}) {
			t.Fatalf("Top(2) = %v, %v", top, err)
		}
		if obs.cached.Load() != cached+1 {
			t.Fatal("Top(2) after Top(3) was not served from the cache")
		}
		// Own writes: every Top right after a write shows it.
		for i := range 20 {
			score := float64(10 + i)
			add(t, b, "m0", score)
			top, err := b.Top(background, 3)
			if err != nil {
				t.Fatal(err)
			}
			if top[0].Member != "m0" || top[0].Score != score {
				t.Fatalf("Top right after Add(m0, %v) = %v", score, top)
			}
		}
		// Another process's write arrives by invalidation.
		other, err := leaderboard.New(s.Client(t), name, leaderboard.Options{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		warmTop(t, b, obs, 3)
		if err := other.Add(background, "newcomer", 1000); err != nil {
			t.Fatal(err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			top, err := b.Top(background, 3)
			if err != nil || top[0].Member != "newcomer" {
				return fmt.Errorf("Top = %v, %v; want newcomer first", top, err)
			}
			return nil
		})
	})
}

// TestTopReadRacingOwnWrite: a Top whose read was answered before this
// process's write completed must not cache what it read.
func TestTopReadRacingOwnWrite(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		obs := &trims{}
		b := newBoard(t, s.Client(t), leaderboard.Options{Observer: obs})
		add(t, b, "a", 0)
		warmTop(t, b, obs, 5) // so that the next read would be cached
		add(t, b, "a", 1)
		var once bool
		leaderboard.SetTopReadHook(b, func() {
			if !once {
				once = true
				add(t, b, "b", 2) // completes after Top's read, before it caches
			}
		})
		if top, err := b.Top(background, 5); err != nil || !slices.Equal(members(top), []string{"a"}) {
			t.Fatalf("Top = %v, %v", top, err)
		}
		leaderboard.SetTopReadHook(b, nil)
		if top, err := b.Top(background, 5); err != nil || !slices.Equal(members(top), []string{"b", "a"}) {
			t.Fatalf("Top after the racing write = %v, %v: the stale read was cached", top, err)
		}
	})
}

// TestTopOfWrittenBoardReadsUntracked: when every Top follows a write, no
// fill of the top cache is ever hit, so Top stops reading tracked (its
// reads cost a lone caller about twice an untracked one) but for rare
// probes, and still shows each write at once; once the writes stop, a
// probe fills the cache and Top is served from it again.
func TestTopOfWrittenBoardReadsUntracked(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		obs := &trims{}
		b := newBoard(t, s.Client(t), leaderboard.Options{Observer: obs})
		var tracked int
		leaderboard.SetTopReadHook(b, func() { tracked++ })
		const writes = 300
		for i := range writes {
			score := float64(i)
			add(t, b, "m", score)
			top, err := b.Top(background, 3)
			if err != nil {
				t.Fatal(err)
			}
			if top[0].Member != "m" || top[0].Score != score {
				t.Fatalf("Top right after Add(m, %v) = %v", score, top)
			}
		}
		// Two fills, then a probe after each run of 4, 8, 16, 32, 64, 64...
		if tracked < 3 || tracked > 12 {
			t.Fatalf("%d of %d Tops after a write read tracked; want a few probes", tracked, writes)
		}
		warmTop(t, b, obs, 3)
	})
}

// TestUntrackedTopRefusesFillInFlight: a tracked Top whose read was sent
// before an untracked Top returned must not fill the cache: the untracked
// reply may be newer than the tracked one, and its caller's next Top would
// then be served an older board than it read.
func TestUntrackedTopRefusesFillInFlight(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		obs := &trims{}
		b := newBoard(t, s.Client(t), leaderboard.Options{Observer: obs})
		for i, m := range []string{"a", "b", "c"} {
			add(t, b, m, float64(i))
		}
		// The cache holds the first 2: Top(3) misses with no write, whose
		// invalidation could refuse the fill by itself.
		warmTop(t, b, obs, 2)
		var once bool
		leaderboard.SetTopReadHook(b, func() {
			if !once {
				once = true
				leaderboard.SkipTopFills(b, 1)
				if _, err := b.Top(background, 3); err != nil { // untracked, while the fill is in flight
					t.Fatal(err)
				}
			}
		})
		if _, err := b.Top(background, 3); err != nil {
			t.Fatal(err)
		}
		leaderboard.SetTopReadHook(b, nil)
		cached := obs.cached.Load()
		if _, err := b.Top(background, 3); err != nil {
			t.Fatal(err)
		}
		if obs.cached.Load() != cached {
			t.Fatal("the fill in flight during an untracked Top was kept")
		}
	})
}

// TestTopCacheOff: with DisableTopCache every Top reads Redis.
func TestTopCacheOff(t *testing.T) {
	obs := &trims{}
	b := newBoard(t, redistest.Standalone(t).Client(t), leaderboard.Options{DisableTopCache: true, Observer: obs})
	add(t, b, "a", 1)
	for range 3 {
		if _, err := b.Top(background, 1); err != nil {
			t.Fatal(err)
		}
	}
	if obs.cached.Load() != 0 || obs.read.Load() != 3 {
		t.Fatalf("%d cached, %d read; want 0 and 3", obs.cached.Load(), obs.read.Load())
	}
}
