package cache

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"
)

// TestDecodedTierStaysBounded streams distinct keys (1M against the byte
// bound) through a small tier, touching a hot set as it goes: the tier never
// exceeds its bounds, and the hot keys survive eviction (CLOCK gives
// referenced items a second chance).
func TestDecodedTierStaysBounded(t *testing.T) {
	tests := []struct {
		name       string
		keys       int
		maxEntries int
		maxBytes   int64
	}{
		{"by bytes", 1_000_000, 1 << 30, 256 << 10},
		{"by entries", 100_000, 4096, 1 << 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tier := newDecodedTier[int](tt.maxEntries, tt.maxBytes)
			now := time.Now().UnixNano()
			insert := func(key string) {
				it := newItem(key, 0, envelope{}, now+int64(time.Hour), 1, 100)
				tier.insert(it, tier.generation(key), now)
			}
			hot := []string{"hot-a", "hot-b", "hot-c"}
			for _, key := range hot {
				insert(key)
			}
			for i := range tt.keys {
				insert(strconv.Itoa(i))
				if i%1000 == 0 {
					for _, key := range hot {
						if it, _ := tier.get(key); it == nil {
							t.Fatalf("hot key %q evicted after %d inserts", key, i)
						}
					}
					entries, weight, _ := tier.usage()
					if entries > tt.maxEntries || weight > tt.maxBytes {
						t.Fatalf("after %d inserts: %d entries, %d bytes; bounds %d, %d", i, entries, weight, tt.maxEntries, tt.maxBytes)
					}
				}
			}
			if entries, _, _ := tier.usage(); entries < min(tt.maxEntries, int(tt.maxBytes/228))/2 {
				t.Fatalf("only %d entries kept: the tier evicts too much", entries)
			}
		})
	}
}

func TestDecodedTierGeneration(t *testing.T) {
	tier := newDecodedTier[string](1000, 1<<20)
	now := time.Now().UnixNano()
	gen := tier.generation("k")
	tier.invalidate("k") // an invalidation overtakes a read in flight
	if tier.insert(newItem("k", "old", envelope{}, now+int64(time.Hour), 1, 3), gen, now) {
		t.Fatal("insert succeeded with a stale generation")
	}
	gen = tier.generation("k")
	if !tier.insert(newItem("k", "v", envelope{}, now+int64(time.Hour), 1, 1), gen, now) {
		t.Fatal("insert failed with a current generation")
	}
	tier.invalidateAll()
	if it, _ := tier.get("k"); it != nil {
		t.Fatal("invalidateAll left an item")
	}
	if tier.insert(newItem("k", "old", envelope{}, now+int64(time.Hour), 1, 3), gen, now) {
		t.Fatal("insert succeeded across invalidateAll")
	}
}

// TestEarlyRefreshProbability checks XFetch's rule against its distribution:
// with gap = softAt − now, P(refresh) = exp(−gap / (β·Δ)).
func TestEarlyRefreshProbability(t *testing.T) {
	c := &Cache[int]{o: Options[int]{EarlyRefreshBeta: 1}}
	delta := time.Second
	for _, gap := range []time.Duration{10 * time.Millisecond, time.Second, 3 * time.Second} {
		now := time.Now().UnixNano()
		it := newItem("k", 0, envelope{loadTime: delta}, now+int64(gap), 1, 1)
		const n = 20000
		hits := 0
		for range n {
			if now >= it.refreshFrom && c.earlyRefreshDue(it, now) {
				hits++
			}
		}
		want := math.Exp(-float64(gap) / float64(delta))
		if got := float64(hits) / n; math.Abs(got-want) > 0.02 {
			t.Errorf("gap %v: refresh rate %.3f, want %.3f", gap, got, want)
		}
	}
	far := newItem("k", 0, envelope{loadTime: delta}, time.Now().UnixNano()+int64(time.Hour), 1, 1)
	if time.Now().UnixNano() >= far.refreshFrom {
		t.Fatal("an item an hour from expiry is checked for early refresh")
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		absent, exact   bool
		stale, loadTime time.Duration
		payload         string
	}{
		{false, false, 0, 0, "x"},
		{false, false, time.Hour, 1500 * time.Microsecond, "payload"},
		{false, true, 0, 0, "x"},
		{true, false, 0, 0, ""},
	} {
		var flags byte
		if tt.absent {
			flags |= flagAbsent
		}
		if tt.exact {
			flags |= flagHardExpiry
		}
		data := append(appendEnvelopeHeader(nil, flags, tt.stale, tt.loadTime), tt.payload...)
		env, err := parseEnvelope(data)
		if err != nil || env.absent != tt.absent || env.exact != tt.exact || env.stale != tt.stale || env.loadTime != tt.loadTime || string(env.payload) != tt.payload {
			t.Fatalf("round trip of %+v: %+v, %v", tt, env, err)
		}
	}
}

// FuzzParseEnvelope: any bytes under a key are rejected or parse into an
// envelope within bounds whose payload is the tail of the input; never a
// panic.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("garbage"))
	f.Add(appendEnvelopeHeader(nil, 0, time.Minute, time.Millisecond))
	f.Add(appendEnvelopeHeader(nil, flagAbsent, 0, 0))
	f.Add(appendEnvelopeHeader(nil, flagHardExpiry, 0, 0))
	f.Add([]byte{envelopeMagic, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := parseEnvelope(data)
		if err != nil {
			return
		}
		if env.stale < 0 || env.stale > MaxTTL || env.loadTime < 0 || env.loadTime > MaxTTL ||
			!bytes.HasSuffix(data, env.payload) || (env.absent && len(env.payload) > 0) {
			t.Fatalf("%x parsed as %+v", data, env)
		}
	})
}

// TestDecodedTierKeepsNewerVersion: of two replies that race into the tier
// with the same generation, the one that read the newer version stays.
func TestDecodedTierKeepsNewerVersion(t *testing.T) {
	tier := newDecodedTier[string](100, 1<<20)
	now := time.Now().UnixNano()
	gen := tier.generation("k")
	newer := newItem("k", "new", envelope{}, now+int64(time.Hour), 1, 3)
	newer.version = 2
	older := newItem("k", "old", envelope{}, now+int64(time.Hour), 1, 3)
	older.version = 1
	if !tier.insert(newer, gen, now) {
		t.Fatal("insert of the newer reply failed")
	}
	if tier.insert(older, gen, now) {
		t.Fatal("an older reply replaced a newer one")
	}
	if it, _ := tier.get("k"); it.value != "new" {
		t.Fatalf("tier holds %q", it.value)
	}
}

// TestErrorMessages: one sentence, the key and the cause once.
func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{keyErr("set", "k", ErrUnavailable), `cache: set "k": redis unavailable (circuit open)`},
		{&keyError{op: "put", key: "k", what: "the source was written; the cache entry was removed because it could not be updated", err: keyErr("set", "k", ErrTooLarge)},
			`cache: put "k": the source was written; the cache entry was removed because it could not be updated: value too large`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
		if !errors.Is(tc.err, ErrUnavailable) && !errors.Is(tc.err, ErrTooLarge) {
			t.Errorf("%v does not wrap its cause", tc.err)
		}
	}
}
