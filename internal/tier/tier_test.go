package tier

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestBounded streams distinct keys through small tiers, reading a hot set
// as it goes: the tier never exceeds its bounds, keeps most of what it may,
// and the hot keys survive the stream.
func TestBounded(t *testing.T) {
	tests := []struct {
		name   string
		keys   int
		o      Options
		weight int64
	}{
		{"by weight", 1_000_000, Options{MaxEntries: 1 << 30, MaxWeight: 256 << 10}, 228},
		{"by entries", 100_000, Options{MaxEntries: 4096}, 1},
		{"one entry", 1000, Options{MaxEntries: 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New[int](tt.o)
			add := func(key string) {
				e := tr.NewEntry(key, Meta{Weight: tt.weight})
				tr.Fill(tr.Begin(key), e)
			}
			hot := []string{"hot-a", "hot-b", "hot-c"}
			for i := range tt.keys {
				add(strconv.Itoa(i))
				for _, key := range hot {
					if tr.Get(key) == nil {
						add(key)
					}
				}
				if i%1000 == 0 && i > 0 {
					for _, key := range hot[:min(len(hot), tt.o.MaxEntries)] {
						if tr.Get(key) == nil && tt.o.MaxEntries > len(hot) {
							t.Fatalf("hot key %q evicted after %d fills", key, i)
						}
					}
					s := tr.Stats()
					if s.Entries > tt.o.MaxEntries || tt.o.MaxWeight > 0 && s.Weight > tt.o.MaxWeight {
						t.Fatalf("after %d fills: %d entries, weight %d; bounds %d, %d", i, s.Entries, s.Weight, tt.o.MaxEntries, tt.o.MaxWeight)
					}
				}
			}
			want := tt.o.MaxEntries
			if tt.o.MaxWeight > 0 {
				want = min(want, int(tt.o.MaxWeight/tt.weight))
			}
			if s := tr.Stats(); s.Entries < want*9/10 {
				t.Fatalf("only %d entries kept of %d", s.Entries, want)
			}
		})
	}
}

func TestTooHeavy(t *testing.T) {
	tr := New[int](Options{MaxEntries: 10, MaxWeight: 100})
	if out := tr.Fill(tr.Begin("k"), tr.NewEntry("k", Meta{Weight: 101})); out != TooHeavy {
		t.Fatalf("outcome %d, want TooHeavy", out)
	}
}

// TestExpiredGoFirst fills a full tier whose hit entries include expired
// ones: eviction takes the expired ones before any live entry.
func TestExpiredGoFirst(t *testing.T) {
	tr := New[int](Options{MaxEntries: 100})
	now := time.Now().UnixNano()
	for i := range 100 {
		expires := now + int64(time.Hour)
		if i%2 == 0 {
			expires = now - 1
		}
		key := strconv.Itoa(i)
		tr.Fill(tr.Begin(key), tr.NewEntry(key, Meta{Weight: 1, Expires: expires}))
		tr.Get(key)
	}
	for i := range 50 {
		key := "new-" + strconv.Itoa(i)
		tr.Fill(tr.Begin(key), tr.NewEntry(key, Meta{Weight: 1}))
	}
	for i := 1; i < 100; i += 2 {
		if tr.Get(strconv.Itoa(i)) == nil {
			t.Fatalf("live entry %d evicted before expired ones", i)
		}
	}
}

// TestTableMatchesMap drives one part's table through random inserts,
// replacements and removals, across many moves to new tables and much
// tombstone reuse, and checks it against a plain map: the key of each step
// after the step, every key every 100 steps.
func TestTableMatchesMap(t *testing.T) {
	tests := []struct {
		name     string
		keys     int // distinct keys drawn from
		removeOf int // one step in removeOf removes
	}{
		{"few keys, mostly removals", 20, 2},
		{"many keys, mostly inserts", 2000, 5},
		{"churn", 300, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New[int](Options{MaxEntries: 1}) // one part
			p := &tr.parts[0]
			model := map[string]*Entry[int]{}
			rng := rand.New(rand.NewPCG(1, uint64(tt.keys)))
			for step := range 20_000 {
				key := strconv.Itoa(rng.IntN(tt.keys))
				if old := model[key]; old != nil {
					p.tab.Load().remove(old)
					delete(model, key)
				}
				if rng.IntN(tt.removeOf) != 0 {
					e := tr.NewEntry(key, Meta{})
					e.Value = step
					p.add(e)
					model[key] = e
				}
				tab := p.tab.Load()
				if tab.live != len(model) || 2*tab.used > len(tab.slots) {
					t.Fatalf("step %d: %d live, %d used of %d slots; %d entries", step, tab.live, tab.used, len(tab.slots), len(model))
				}
				for k, want := range model {
					if step%100 != 0 {
						break
					}
					if got := tab.find(k, want.hash); got != want {
						t.Fatalf("step %d: find(%q) = %v, want %v", step, k, got, want)
					}
				}
				if got := tab.find(key, tr.hash(key)); got != model[key] {
					t.Fatalf("step %d: find(%q) = %v after its removal", step, key, got)
				}
			}
		})
	}
}

// TestLookupsDuringWrites: lookups of a hot key, without a lock, while
// writers churn its part (evictions, tombstones, new tables) and invalidate
// and refill the key. A lookup only ever finds an entry of its own key, and
// one that starts after an invalidation returned never finds the entry it
// dropped. Run with -race.
func TestLookupsDuringWrites(t *testing.T) {
	tr := New[int](Options{MaxEntries: 64}) // one part: every key shares it
	const rounds = 2000
	dropped := make(chan int)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 * rounds {
			key := "k" + strconv.Itoa(i%200)
			fill(tr, tr.Begin(key), key, i)
		}
	})
	wg.Go(func() {
		defer close(dropped)
		for v := range rounds {
			fill(tr, tr.Begin("hot"), "hot", v)
			tr.Invalidate("hot")
			dropped <- v
		}
	})
	for v := range dropped {
		for range 10 {
			e := tr.Get("hot")
			if e == nil {
				continue
			}
			if e.key != "hot" {
				t.Fatalf("lookup of %q found %q", "hot", e.key)
			}
			if e.Value <= v {
				t.Fatalf("found value %d, invalidated before the lookup (last dropped %d)", e.Value, v)
			}
		}
	}
	wg.Wait()
}
