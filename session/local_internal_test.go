package session

import (
	"strconv"
	"testing"
	"time"
)

func TestLocalTier(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	fresh := func(id string) *localRecord {
		return &localRecord{id: id, rec: record{user: "u", version: 1}, until: now.Add(time.Minute)}
	}
	hit := func(tier *localTier, key, id string, at time.Time) bool {
		_, ok := tier.get(key, id, at)
		return ok
	}
	read := func(tier *localTier, key, id string) { tier.endRead(key, tier.begin(key), fresh(id)) }
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, tier *localTier)
	}{
		{"a read is kept until fresh", func(t *testing.T, tier *localTier) {
			read(tier, "k", "a")
			if !hit(tier, "k", "a", now) || hit(tier, "k", "a", now.Add(time.Minute)) || hit(tier, "k", "b", now) {
				t.Error("want a hit for a until its deadline, and only for a")
			}
		}},
		{"a read overtaken by an invalidation is not kept", func(t *testing.T, tier *localTier) {
			w := tier.begin("k")
			tier.Invalidate("k")
			tier.endRead("k", w, fresh("a"))
			if hit(tier, "k", "a", now) {
				t.Error("kept a reply older than an invalidation")
			}
		}},
		{"a read overtaken by a write of this process is not kept", func(t *testing.T, tier *localTier) {
			w := tier.begin("k")
			tier.endWrite("k", nil, nil)
			tier.endRead("k", w, fresh("a"))
			if hit(tier, "k", "a", now) {
				t.Error("kept a reply older than an own write")
			}
		}},
		{"a read overtaken by a flush is not kept", func(t *testing.T, tier *localTier) {
			w := tier.begin("k")
			tier.InvalidateAll()
			tier.endRead("k", w, fresh("a"))
			if hit(tier, "k", "a", now) {
				t.Error("kept a reply older than a flush")
			}
		}},
		{"an invalidation of another key does not count", func(t *testing.T, tier *localTier) {
			w := tier.begin("k")
			tier.Invalidate("other")
			tier.endRead("k", w, fresh("a"))
			if !hit(tier, "k", "a", now) {
				t.Error("a read was not kept after another key's invalidation")
			}
		}},
		{"invalidation drops every session of the key", func(t *testing.T, tier *localTier) {
			read(tier, "k", "a")
			read(tier, "k", "b")
			tier.Invalidate("k")
			if hit(tier, "k", "a", now) || hit(tier, "k", "b", now) {
				t.Error("a session of an invalidated key is still served")
			}
		}},
		{"a write drops the key", func(t *testing.T, tier *localTier) {
			read(tier, "k", "a")
			tier.endWrite("k", tier.begin("k"), nil)
			if hit(tier, "k", "a", now) {
				t.Error("a written key is still served")
			}
		}},
		{"a write whose own invalidation is to come absorbs it, and only it", func(t *testing.T, tier *localTier) {
			read(tier, "k", "b")
			tier.endWrite("k", tier.begin("k"), fresh("a"))
			if hit(tier, "k", "b", now) || !hit(tier, "k", "a", now) {
				t.Fatal("want the written session, and the key's others dropped")
			}
			tier.Invalidate("k") // the write's own
			if !hit(tier, "k", "a", now) {
				t.Fatal("the write's own invalidation dropped what it wrote")
			}
			tier.Invalidate("k") // a later write
			if hit(tier, "k", "a", now) {
				t.Error("a second invalidation was absorbed")
			}
		}},
		{"an absorbed invalidation counts in no watch", func(t *testing.T, tier *localTier) {
			tier.endWrite("k", tier.begin("k"), fresh("a")) // its own invalidation to come
			next := tier.begin("k")                         // the next write, sent after
			tier.Invalidate("k")                            // the first write's own
			tier.Invalidate("k")                            // the next write's own
			tier.endWrite("k", next, fresh("b"))
			if !hit(tier, "k", "b", now) {
				t.Error("the next write was not kept: the previous write's own invalidation counted")
			}
		}},
		{"a write whose own invalidation came keeps, and the next drops", func(t *testing.T, tier *localTier) {
			w := tier.begin("k")
			tier.Invalidate("k")
			tier.endWrite("k", w, fresh("a"))
			if !hit(tier, "k", "a", now) {
				t.Fatal("the write was not kept")
			}
			tier.Invalidate("k")
			if hit(tier, "k", "a", now) {
				t.Error("an invalidation after the write's own was absorbed")
			}
		}},
		{"a write that saw two invalidations keeps nothing", func(t *testing.T, tier *localTier) {
			w := tier.begin("k")
			tier.Invalidate("k")
			tier.Invalidate("k")
			tier.endWrite("k", w, fresh("a"))
			if hit(tier, "k", "a", now) {
				t.Error("kept a write that another may have followed")
			}
		}},
		{"writes of this process that overlap keep nothing", func(t *testing.T, tier *localTier) {
			first, second := tier.begin("k"), tier.begin("k")
			tier.endWrite("k", second, fresh("b"))
			tier.endWrite("k", first, fresh("a"))
			if hit(tier, "k", "a", now) || hit(tier, "k", "b", now) {
				t.Error("kept a write that overlapped another")
			}
		}},
		{"a flush during a write keeps nothing and ends absorbing", func(t *testing.T, tier *localTier) {
			w := tier.begin("k")
			tier.InvalidateAll()
			tier.endWrite("k", w, fresh("a"))
			if hit(tier, "k", "a", now) {
				t.Error("kept a write overtaken by a flush")
			}
			tier.endWrite("k", tier.begin("k"), fresh("a"))
			tier.InvalidateAll()
			tier.endRead("k", tier.begin("k"), fresh("a"))
			tier.Invalidate("k")
			if hit(tier, "k", "a", now) {
				t.Error("an invalidation was absorbed for a write dropped by a flush")
			}
		}},
		{"closed keeps nothing", func(t *testing.T, tier *localTier) {
			read(tier, "k", "a")
			tier.close()
			read(tier, "k", "b")
			tier.endWrite("k", tier.begin("k"), fresh("c"))
			if hit(tier, "k", "a", now) || hit(tier, "k", "b", now) || hit(tier, "k", "c", now) {
				t.Error("a closed tier serves")
			}
		}},
		{"bounded, and no watch left open", func(t *testing.T, tier *localTier) {
			for i := range 100 * localShards {
				read(tier, strconv.Itoa(i), "a")
			}
			held := 0
			for i := range tier.shards {
				sh := &tier.shards[i]
				n := 0
				for _, g := range sh.groups {
					n += len(g.records)
				}
				if n != sh.size || n > tier.perShard {
					t.Fatalf("shard %d holds %d records, counts %d, bound %d", i, n, sh.size, tier.perShard)
				}
				if len(sh.watches) != 0 {
					t.Fatalf("shard %d has %d keys with open watches", i, len(sh.watches))
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
