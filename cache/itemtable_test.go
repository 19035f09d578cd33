package cache

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestItemTableMatchesMap drives one shard's table through random inserts,
// replacements and removals, across many moves to new tables and much
// tombstone reuse, and checks it against a plain map: the key of each step
// after the step, every key every 100 steps.
func TestItemTableMatchesMap(t *testing.T) {
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
			tier := newDecodedTier[int](1, 1<<40) // one shard
			s := &tier.shards[0]
			model := map[string]*item[int]{}
			rng := rand.New(rand.NewPCG(1, uint64(tt.keys)))
			for step := range 20_000 {
				key := strconv.Itoa(rng.IntN(tt.keys))
				_, h := tier.shard(key)
				if old := model[key]; old != nil {
					s.items.Load().remove(old)
					delete(model, key)
				}
				if rng.IntN(tt.removeOf) != 0 {
					it := &item[int]{key: key, value: step, hash: h}
					s.add(it)
					model[key] = it
				}
				tab := s.items.Load()
				if tab.live != len(model) || 2*tab.used > len(tab.slots) {
					t.Fatalf("step %d: %d live, %d used of %d slots; %d items", step, tab.live, tab.used, len(tab.slots), len(model))
				}
				for k, want := range model {
					if step%100 != 0 {
						break
					}
					if got := tab.find(k, want.hash); got != want {
						t.Fatalf("step %d: find(%q) = %v, want %v", step, k, got, want)
					}
				}
				if got := tab.find(key, h); got != model[key] {
					t.Fatalf("step %d: find(%q) = %v after its removal", step, key, got)
				}
			}
		})
	}
}

// TestItemTableLookupsDuringWrites: lookups of a hot key, without a lock,
// while writers churn its shard (moving it to new tables) and invalidate
// and re-insert the key. A lookup only ever finds an item of its own key,
// and one that starts after an invalidation returned never finds the item
// it dropped. Run with -race.
func TestItemTableLookupsDuringWrites(t *testing.T) {
	tier := newDecodedTier[int](64, 1<<40) // one shard: every key shares it
	now := time.Now().UnixNano()
	insert := func(key string, v int) { // fails when an invalidation overtakes it
		tier.insert(newItem(key, v, envelope{}, now+int64(time.Hour), 0, 8), tier.generation(key), now)
	}
	const rounds = 2000
	dropped := make(chan int)
	var wg sync.WaitGroup
	wg.Go(func() { // churns the shard: evictions, tombstones, new tables
		for i := range 20 * rounds {
			insert("k"+strconv.Itoa(i%200), i)
		}
	})
	wg.Go(func() {
		defer close(dropped)
		for v := range rounds {
			insert("hot", v)
			tier.invalidate("hot")
			dropped <- v
		}
	})
	for v := range dropped {
		for range 10 {
			it, stripe := tier.get("hot")
			if stripe == nil {
				t.Fatal("no hit counter stripe")
			}
			if it == nil {
				continue
			}
			if it.key != "hot" {
				t.Fatalf("lookup of %q found %q", "hot", it.key)
			}
			if it.value <= v {
				t.Fatalf("found value %d, invalidated before the lookup (last dropped %d)", it.value, v)
			}
		}
	}
	wg.Wait()
}

// TestHitCounterIsExact: hits counted by many goroutines at once, each in
// the stripe its stack picks, add up exactly once they are done.
func TestHitCounterIsExact(t *testing.T) {
	var hits hitCounter
	const goroutines, each = 16, 10_000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				hits.stripe().add()
			}
		})
	}
	wg.Wait()
	if got := hits.sum(); got != goroutines*each {
		t.Fatalf("counted %d hits, want %d", got, goroutines*each)
	}
}
