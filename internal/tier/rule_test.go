package tier

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// fill fills key with v through a read whose ticket is tk.
func fill(tr *Tier[int], tk Ticket, key string, v int) Outcome {
	e := tr.NewEntry(key, Meta{Weight: 1, Version: uint64(v)})
	e.Value = v
	return tr.Fill(tk, e)
}

// writeThrough ends a write of key with ticket tk that keeps v.
func writeThrough(tr *Tier[int], tk Ticket, key string, v int) Outcome {
	e := tr.NewEntry(key, Meta{Weight: 1, Version: uint64(v)})
	e.Value = v
	return tr.FillOwnWrite(tk, e)
}

// held returns the value the tier holds under key, or -1.
func held(tr *Tier[int], key string) int {
	if e := tr.Get(key); e != nil {
		return e.Value
	}
	return -1
}

// collidingKey returns a key other than key in key's generation stripe.
func collidingKey(tr *Tier[int], key string) string {
	want := tr.stripe(tr.hash(key))
	for i := 0; ; i++ {
		other := "other-" + strconv.Itoa(i)
		if tr.stripe(tr.hash(other)) == want {
			return other
		}
	}
}

// TestRule drives the rule through each interleaving of a read or a write
// with what may overtake it, one step at a time.
func TestRule(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, tr *Tier[int]) (got Outcome, want Outcome, value, wantValue int)
	}{
		{"a read is kept", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			out := fill(tr, tr.Begin("k"), "k", 1)
			return out, Kept, held(tr, "k"), 1
		}},
		{"an invalidation overtaking a read in flight", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tk := tr.Begin("k")
			tr.Invalidate("k")
			return fill(tr, tk, "k", 1), Overtaken, held(tr, "k"), -1
		}},
		{"an invalidation before the read began", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tr.Invalidate("k")
			return fill(tr, tr.Begin("k"), "k", 1), Kept, held(tr, "k"), 1
		}},
		{"a flush during a read", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tk := tr.Begin("k")
			tr.InvalidateAll()
			return fill(tr, tk, "k", 1), Overtaken, held(tr, "k"), -1
		}},
		{"an own write during a read", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tk := tr.Begin("k")
			tr.OwnWrite("k")
			return fill(tr, tk, "k", 1), Overtaken, held(tr, "k"), -1
		}},
		{"an invalidation of another stripe", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tk := tr.Begin("k")
			other := "x"
			for tr.stripe(tr.hash(other)) == tr.stripe(tr.hash("k")) {
				other += "x"
			}
			tr.Invalidate(other)
			return fill(tr, tk, "k", 1), Kept, held(tr, "k"), 1
		}},
		{"a stripe collision refuses, never keeps stale", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			fill(tr, tr.Begin("k"), "k", 1)
			tk := tr.Begin("k")
			tr.Invalidate(collidingKey(tr, "k")) // another key: k's entry stays
			if held(tr, "k") != 1 {
				t.Fatal("an invalidation of a colliding key dropped k")
			}
			return fill(tr, tk, "k", 2), Overtaken, held(tr, "k"), 1
		}},
		{"an older version never replaces a newer", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			slow, fast := tr.Begin("k"), tr.Begin("k")
			fill(tr, fast, "k", 2)
			return fill(tr, slow, "k", 1), Outdated, held(tr, "k"), 2
		}},
		{"an untracked read during a tracked one", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tk := tr.Begin("k")
			tr.ReadUntracked("k") // returned a newer value than the tracked read's
			return fill(tr, tk, "k", 1), Overtaken, held(tr, "k"), -1
		}},
		{"a read after an untracked one is kept", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tr.ReadUntracked("k")
			return fill(tr, tr.Begin("k"), "k", 1), Kept, held(tr, "k"), 1
		}},
		{"an own write drops the key", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			out := fill(tr, tr.Begin("k"), "k", 1)
			tr.OwnWrite("k")
			return out, Kept, held(tr, "k"), -1
		}},
		{"a write whose own invalidation is to come absorbs it, and only it", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			fill(tr, tr.Begin("k"), "k", 1)
			out := writeThrough(tr, tr.Begin("k"), "k", 2)
			if tr.Invalidate("k"); held(tr, "k") != 2 {
				t.Fatal("the write's own invalidation dropped what it kept")
			}
			tr.Invalidate("k") // a later change
			return out, Kept, held(tr, "k"), -1
		}},
		{"an absorbed invalidation counts in no ticket", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			writeThrough(tr, tr.Begin("k"), "k", 2)
			tk := tr.Begin("k") // sent after the write's reply
			tr.Invalidate("k")  // the write's own
			return fill(tr, tk, "k", 3), Kept, held(tr, "k"), 3
		}},
		{"a fill carries the absorption over", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			writeThrough(tr, tr.Begin("k"), "k", 2)
			fill(tr, tr.Begin("k"), "k", 3)
			tr.Invalidate("k") // the write's own: absorbed by the new entry
			return Kept, Kept, held(tr, "k"), 3
		}},
		{"a write whose own invalidation came keeps, and the next drops", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tk := tr.Begin("k")
			tr.Invalidate("k") // the write's own, before its reply
			out := writeThrough(tr, tk, "k", 2)
			if held(tr, "k") != 2 {
				t.Fatal("not kept")
			}
			tr.Invalidate("k")
			return out, Kept, held(tr, "k"), -1
		}},
		{"a write that saw two invalidations keeps nothing", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tk := tr.Begin("k")
			tr.Invalidate("k")
			tr.Invalidate("k")
			return writeThrough(tr, tk, "k", 2), Overtaken, held(tr, "k"), -1
		}},
		{"overlapping own writes keep nothing", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			first, second := tr.Begin("k"), tr.Begin("k")
			writeThrough(tr, second, "k", 2)
			return writeThrough(tr, first, "k", 1), Overtaken, held(tr, "k"), -1
		}},
		{"an own write of a colliding key keeps nothing", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			tk := tr.Begin("k")
			tr.OwnWrite(collidingKey(tr, "k"))
			return writeThrough(tr, tk, "k", 2), Overtaken, held(tr, "k"), -1
		}},
		{"a flush during a write keeps nothing and ends absorbing", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			writeThrough(tr, tr.Begin("k"), "k", 1)
			tk := tr.Begin("k")
			tr.InvalidateAll()
			out := writeThrough(tr, tk, "k", 2)
			fill(tr, tr.Begin("k"), "k", 3)
			tr.Invalidate("k")
			return out, Overtaken, held(tr, "k"), -1
		}},
		{"closed keeps nothing", func(t *testing.T, tr *Tier[int]) (Outcome, Outcome, int, int) {
			fill(tr, tr.Begin("k"), "k", 1)
			tr.Close()
			if held(tr, "k") != -1 {
				t.Fatal("Close left an entry")
			}
			return fill(tr, tr.Begin("k"), "k", 2), Closed, held(tr, "k"), -1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New[int](Options{MaxEntries: 100})
			got, want, v, wantV := tt.run(t, tr)
			if got != want || v != wantV {
				t.Fatalf("outcome %d, holds %d; want %d, %d", got, v, want, wantV)
			}
		})
	}
}

// TestRuleConcurrent forces the interleavings of TestRule on goroutines: a
// reader whose request reaches a fake server, an invalidation or a flush
// that the test lets overtake its reply, and the reply. Channels order the
// steps; -race checks the tier's memory accesses.
func TestRuleConcurrent(t *testing.T) {
	tests := []struct {
		name     string
		overtake func(tr *Tier[int])
		want     Outcome
	}{
		{"nothing", func(*Tier[int]) {}, Kept},
		{"invalidation", func(tr *Tier[int]) { tr.Invalidate("k") }, Overtaken},
		{"flush", func(tr *Tier[int]) { tr.InvalidateAll() }, Overtaken},
		{"own write", func(tr *Tier[int]) { tr.OwnWrite("k") }, Overtaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New[int](Options{MaxEntries: 10})
			sent, reply := make(chan struct{}), make(chan int)
			done := make(chan Outcome)
			go func() {
				tk := tr.Begin("k")
				close(sent)
				done <- fill(tr, tk, "k", <-reply)
			}()
			<-sent
			var hits sync.WaitGroup
			for range 4 {
				hits.Go(func() { tr.Get("k") })
			}
			tt.overtake(tr)
			reply <- 1
			if got := <-done; got != tt.want {
				t.Fatalf("outcome %d, want %d", got, tt.want)
			}
			hits.Wait()
		})
	}
}

// TestRuleModel runs random histories of reads, other processes' writes,
// own writes, write-throughs, delayed invalidations and reconnects against
// a model of Redis, and checks after every step that the tier holds no
// value older than a change whose invalidation arrived or whose own write
// returned. Keys are few and stripes are shared, so collisions happen.
func TestRuleModel(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		tr := New[int](Options{MaxEntries: 4})
		keys := []string{"a", "b", "c", "d", "e", collidingKey(tr, "a")}
		version := map[string]int{} // Redis
		known := map[string]int{}   // the newest change this process must see
		type read struct {
			key string
			tk  Ticket
			v   int // what Redis replied; -1 until it ran
			own bool
		}
		var inflight []*read
		var pending []string // invalidations sent, in order
		for step := range 5000 {
			key := keys[rng.IntN(len(keys))]
			switch rng.IntN(7) {
			case 0: // send a read
				inflight = append(inflight, &read{key: key, tk: tr.Begin(key), v: -1})
			case 1: // Redis runs a request in flight
				if len(inflight) > 0 {
					r := inflight[rng.IntN(len(inflight))]
					if r.v < 0 {
						if r.own {
							version[r.key]++
							pending = append(pending, r.key) // its own invalidation
						}
						r.v = version[r.key]
					}
				}
			case 2: // a reply arrives
				if len(inflight) > 0 {
					i := rng.IntN(len(inflight))
					r := inflight[i]
					if r.v < 0 {
						break
					}
					inflight = append(inflight[:i], inflight[i+1:]...)
					if r.own {
						known[r.key] = max(known[r.key], r.v)
						writeThrough(tr, r.tk, r.key, r.v)
					} else {
						fill(tr, r.tk, r.key, r.v)
					}
				}
			case 3: // another process writes
				version[key]++
				pending = append(pending, key)
			case 4: // an invalidation arrives
				if len(pending) > 0 {
					k := pending[0]
					pending = pending[1:]
					known[k] = max(known[k], versionAt(version, k, pending))
					tr.Invalidate(k)
				}
			case 5: // a write-through of this process is sent
				inflight = append(inflight, &read{key: key, tk: tr.Begin(key), v: -1, own: true})
			case 6:
				if rng.IntN(20) == 0 { // a reconnect: invalidations lost
					pending = nil
					for k, v := range version {
						known[k] = v
					}
					tr.InvalidateAll()
				}
			}
			for _, k := range keys {
				if e := tr.Get(k); e != nil && e.Value < known[k] {
					t.Fatalf("seed %d step %d: holds %s=%d, but change %d was reported", seed, step, k, e.Value, known[k])
				}
			}
		}
	}
}

// versionAt is the version of key whose invalidation is the first of
// pending's: a key's invalidations arrive in order, one per change, so the
// one arriving reports the change pending's later ones do not.
func versionAt(version map[string]int, key string, pending []string) int {
	later := 0
	for _, k := range pending {
		if k == key {
			later++
		}
	}
	return version[key] - later
}
