// Package tier is the local tier of typecache's packages: a bounded,
// in-process map of values read from Redis, kept coherent with Redis by the
// invalidations of RESP3 client tracking. The coherence rule (a read keeps
// its reply only if no invalidation, own write or flush of its key was
// counted while it was in flight; own writes drop their key or, for a
// write-through, keep what they wrote and absorb their own invalidation) is
// stated and proved once, on Tier, and every package with a local tier
// (cache, session, counter, leaderboard) uses it.
//
// A read:
//
//	if e := t.Get(key); e != nil {
//		return e.Value // no lock, no allocation
//	}
//	tk := t.Begin(key) // before the tracked read is sent
//	v, err := read(ctx, key)
//	if err == nil {
//		e := t.NewEntry(key, tier.Meta{Weight: 1})
//		e.Value = v
//		t.Fill(tk, e) // kept only if nothing overtook the read
//	}
//
// A write calls t.OwnWrite(key) after its reply; the subscription to the
// key's invalidations calls t.Invalidate and t.InvalidateAll.
package tier
