package session

import (
	"strconv"
	"testing"
	"time"
)

func TestLocalTier(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	fresh := func(id string) localRecord {
		return localRecord{id: id, rec: record{user: "u", version: 1}, until: now.Add(time.Minute)}
	}
	hit := func(tier *localTier, key, id string, at time.Time) bool {
		_, ok := tier.get(key, id, at)
		return ok
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, tier *localTier)
	}{
		{"insert and get until fresh", func(t *testing.T, tier *localTier) {
			tier.insert("k", tier.generation("k"), fresh("a"))
			if !hit(tier, "k", "a", now) || hit(tier, "k", "a", now.Add(time.Minute)) || hit(tier, "k", "b", now) {
				t.Error("want a hit for a until its deadline, and only for a")
			}
		}},
		{"a read overtaken by an invalidation is not kept", func(t *testing.T, tier *localTier) {
			gen := tier.generation("k")
			tier.Invalidate("k")
			tier.insert("k", gen, fresh("a"))
			if hit(tier, "k", "a", now) {
				t.Error("kept a reply older than an invalidation")
			}
		}},
		{"a read overtaken by a flush is not kept", func(t *testing.T, tier *localTier) {
			gen := tier.generation("k")
			tier.InvalidateAll()
			tier.insert("k", gen, fresh("a"))
			if hit(tier, "k", "a", now) {
				t.Error("kept a reply older than a flush")
			}
		}},
		{"invalidation drops every session of the key", func(t *testing.T, tier *localTier) {
			gen := tier.generation("k")
			tier.insert("k", gen, fresh("a"))
			tier.insert("k", gen, fresh("b"))
			tier.Invalidate("k")
			if hit(tier, "k", "a", now) || hit(tier, "k", "b", now) {
				t.Error("a session of an invalidated key is still served")
			}
		}},
		{"closed keeps nothing", func(t *testing.T, tier *localTier) {
			tier.insert("k", tier.generation("k"), fresh("a"))
			tier.close()
			tier.insert("k", tier.generation("k"), fresh("b"))
			if hit(tier, "k", "a", now) || hit(tier, "k", "b", now) {
				t.Error("a closed tier serves")
			}
		}},
		{"bounded", func(t *testing.T, tier *localTier) {
			for i := range 100 * localShards {
				key := strconv.Itoa(i)
				tier.insert(key, tier.generation(key), fresh("a"))
			}
			held := 0
			for i := range tier.shards {
				sh := &tier.shards[i]
				n := 0
				for _, records := range sh.groups {
					n += len(records)
				}
				if n != sh.size || n > tier.perShard {
					t.Fatalf("shard %d holds %d records, counts %d, bound %d", i, n, sh.size, tier.perShard)
				}
				held += n
			}
			if held == 0 || held > localShards*tier.perShard {
				t.Errorf("holds %d records, want 1 to %d", held, localShards*tier.perShard)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newLocalTier(10*localShards)) })
	}
}
