package session

import (
	"strconv"
	"testing"
	"time"
)

// TestLocalTier checks what the Store's local tier adds to internal/tier,
// whose tests cover the coherence rule: sessions grouped by key, each
// fresh until its deadline, a write that keeps only what it wrote, the
// bound in sessions, and a nil tier that does nothing.
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
		{"reads of one key keep its sessions side by side", func(t *testing.T, tier *localTier) {
			read(tier, "k", "a")
			read(tier, "k", "b")
			read(tier, "k", "a")
			if !hit(tier, "k", "a", now) || !hit(tier, "k", "b", now) {
				t.Error("want both sessions of the key")
			}
		}},
		{"a read overtaken by a write of this process is not kept", func(t *testing.T, tier *localTier) {
			tk := tier.begin("k")
			tier.ownWrite("k")
			tier.endRead("k", tk, fresh("a"))
			if hit(tier, "k", "a", now) {
				t.Error("kept a reply older than an own write")
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
		{"a write keeps what it wrote, alone, and absorbs its own invalidation", func(t *testing.T, tier *localTier) {
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
		{"a write that keeps nothing drops the key", func(t *testing.T, tier *localTier) {
			read(tier, "k", "a")
			tier.endWrite("k", tier.begin("k"), nil)
			if hit(tier, "k", "a", now) {
				t.Error("a written key is still served")
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
		{"bounded in sessions", func(t *testing.T, tier *localTier) {
			for i := range 1000 {
				read(tier, strconv.Itoa(i%300), strconv.Itoa(i))
			}
			if s := tier.t.Stats(); s.Weight == 0 || s.Weight > 100 {
				t.Errorf("holds %d sessions, want 1 to 100", s.Weight)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newLocalTier(100)) })
	}
	t.Run("a nil tier does nothing", func(t *testing.T) {
		var tier *localTier
		tier.endRead("k", tier.begin("k"), fresh("a"))
		tier.endWrite("k", tier.begin("k"), fresh("a"))
		tier.ownWrite("k")
		tier.close()
	})
}
