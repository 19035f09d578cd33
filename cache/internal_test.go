package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestEarlyRefreshProbability checks XFetch's rule against its distribution:
// with gap = softAt − now, P(refresh) = exp(−gap / (β·Δ)).
func TestEarlyRefreshProbability(t *testing.T) {
	c := &Cache[int]{o: Options[int]{EarlyRefreshBeta: 1}}
	delta := time.Second
	for _, gap := range []time.Duration{10 * time.Millisecond, time.Second, 3 * time.Second} {
		now := time.Now().UnixNano()
		it := new(item[int])
		it.init("k", 0, 1, envelope{loadTime: delta}, now+int64(gap), 1)
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
	far := new(item[int])
	far.init("k", 0, 1, envelope{loadTime: delta}, time.Now().UnixNano()+int64(time.Hour), 1)
	if time.Now().UnixNano() >= far.refreshFrom {
		t.Fatal("an item an hour from expiry is checked for early refresh")
	}
}

// stored returns what the scripts store for an encoded envelope: it with
// the version and the generation written over its zeroed stamps, the
// generation as the distance below the version that store() writes.
func stored(version uint64, gen int64, encoded []byte) []byte {
	below := min(max(generationAt(version, 0)-gen, 0), 1<<(8*generationBytes)-1)
	b := append([]byte{encoded[0]}, binary.BigEndian.AppendUint64(nil, version)[8-versionBytes:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(below))
	return append(b, encoded[headerBytes:]...)
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		absent, exact   bool
		stale, loadTime time.Duration
		payload         string
	}{
		{false, false, 0, 0, "x"},
		{false, false, time.Hour, 1500 * time.Microsecond, "payload"},
		{false, false, time.Hour, 0, "stale window only"},
		{false, false, 0, time.Second, "load time only"},
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
		data := append(appendEnvelope(nil, flags, tt.stale, tt.loadTime), tt.payload...)
		// A header holds only the durations that are not 0.
		wantLen := headerBytes + len(tt.payload)
		for _, d := range []uint64{uint64(tt.stale / time.Millisecond), uint64(tt.loadTime / time.Microsecond)} {
			if d > 0 {
				wantLen += len(binary.AppendUvarint(nil, d))
			}
		}
		if len(data) != wantLen {
			t.Errorf("%+v encodes to %d bytes, want %d", tt, len(data), wantLen)
		}
		const version, gen = 110312500000001, 1765000000000
		s := string(stored(version, gen, data))
		got, env, err := parseStored(s)
		if err != nil || got != version || env.absent != tt.absent || env.exact != tt.exact || env.stale != tt.stale || env.loadTime != tt.loadTime || string(env.payload) != tt.payload {
			t.Fatalf("round trip of %+v: %d, %+v, %v", tt, got, env, err)
		}
		if older, err := olderGeneration(s, strconv.Itoa(gen)); err != nil || older {
			t.Fatalf("a value of generation %d reads as older than it: %v, %v", gen, older, err)
		}
		if older, err := olderGeneration(s, strconv.Itoa(gen+1)); err != nil || !older {
			t.Fatalf("a value of generation %d does not read as older than the next: %v, %v", gen, older, err)
		}
	}
}

// generationCases are a value's generations relative to the
// millisecond of its version: the generation a value is stored with and
// what readers of the generation it was written in, and of one begun just
// after it, must be told.
var generationCases = []struct {
	name      string
	below     int64 // the generation's distance below the version, in ms
	exact     bool  // the header holds it exactly
	ownHidden bool  // its own generation's readers get a miss
}{
	{"a second old", 1000, true, false},
	{"a second ahead (a Clear's new generation)", -1000, true, false},
	{"30 days old", 30 * 24 * 3600 * 1000, true, false},
	{"60 days old: clamped, still its own generation's", 60 * 24 * 3600 * 1000, false, false},
	{"ahead by more than the bias: clamped, a miss", -2 * generationBias, false, true},
}

// TestGenerationStamp: the generation a header holds, as the distance
// below the version, reads back exactly within the 4 bytes' range and, at
// either clamp, errs only towards a miss for a generation begun after the
// value was written.
func TestGenerationStamp(t *testing.T) {
	const version = 110312500000001 // 2025-12-06 in ticks
	ms := generationAt(version, generationBias)
	for _, tc := range generationCases {
		t.Run(tc.name, func(t *testing.T) {
			gen := ms - tc.below
			s := string(stored(version, gen, appendEnvelope(nil, 0, 0, 0)))
			_, got, _ := headerStamps(s)
			if (got == gen) != tc.exact {
				t.Fatalf("generation %d read back as %d", gen, got)
			}
			if older, _ := olderGeneration(s, strconv.FormatInt(gen, 10)); older != tc.ownHidden {
				t.Fatalf("read in its own generation: older = %v", older)
			}
			if older, _ := olderGeneration(s, strconv.FormatInt(max(gen, ms+1000)+1, 10)); !older {
				t.Fatalf("read in a generation begun after it was written: not older")
			}
		})
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

// FuzzParseStored: any bytes under a value's key are rejected or split
// into a version and an envelope within bounds whose payload is the tail
// of the input; never a panic. An envelope stored as the scripts store it
// reads back with its version.
func FuzzParseStored(f *testing.F) {
	f.Add(uint64(1765000000000001), []byte{})
	f.Add(uint64(1765000000000001), appendEnvelope(nil, 0, time.Minute, time.Millisecond))
	f.Add(uint64(1<<48-1), appendEnvelope(nil, flagAbsent, 0, 0))
	f.Add(uint64(1), appendEnvelope(nil, flagHardExpiry, 0, 0))
	f.Add(uint64(0), []byte{storedLayout | flagStale | flagLoadTime, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(uint64(0), []byte("17650000000000011765000000000001\xc1\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, version uint64, data []byte) {
		if _, env, err := parseStored(string(data)); err == nil {
			if env.stale < 0 || env.stale > MaxTTL || env.loadTime < 0 || env.loadTime > MaxTTL ||
				!bytes.HasSuffix(data, env.payload) || (env.absent && len(env.payload) > 0) {
				t.Fatalf("%x parsed as %+v", data, env)
			}
		}
		if len(data) < headerBytes || data[0]&^flagBits != storedLayout {
			return
		}
		version &= 1<<(8*versionBytes) - 1
		s := string(stored(version, 42, data))
		got, env, err := parseStored(s)
		if _, envErr := parseEnvelope(data[0]&flagBits, data[headerBytes:]); (err == nil) != (envErr == nil) {
			t.Fatalf("parseStored(%x): %v, but its envelope alone: %v", s, err, envErr)
		}
		if err == nil && (got != version || !bytes.HasSuffix(data, env.payload)) {
			t.Fatalf("parseStored(%x) = %d, %+v; want version %d", s, got, env, version)
		}
	})
}

// TestFlightHitEndsLaterFlightsJoins: a flight forgotten while it resolved
// (an own write, an invalidation) that lands with a hit makes the key's
// next join start a new flight, also when another flight took its place:
// that one may have read Redis before the hit's value was written.
func TestFlightHitEndsLaterFlightsJoins(t *testing.T) {
	for _, tc := range []struct {
		name  string
		out   outcome[int]
		stays bool // the later flight can still be joined
	}{
		{"hit", outcome[int]{hit: true}, false},
		{"load", outcome[int]{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g flightGroup[int]
			first, _ := g.join("k")
			g.forget("k")
			later, leader := g.join("k")
			if !leader || later == first {
				t.Fatal("a join after forget did not start a new flight")
			}
			g.land("k", first, tc.out)
			next, leader := g.join("k")
			if stays := !leader && next == later; stays != tc.stays {
				t.Fatalf("after the forgotten flight landed (%s), the later flight can be joined: %v, want %v", tc.name, stays, tc.stays)
			}
		})
	}
}

// TestAdmitHeldKeys: a key the local tier holds is admitted (its remote
// read is tracked) although the doorkeeper, which sees remote reads only,
// forgot it; a key it does not hold is not.
func TestAdmitHeldKeys(t *testing.T) {
	local := newDecodedTier[int](1, 0, false)
	if local.admit("held") {
		t.Fatal("a key's first read admitted")
	}
	e := local.newEntry("held", 1, time.Now().Add(time.Hour).UnixNano(), 1)
	if !local.insert(e, local.ticket("held")) {
		t.Fatal("the entry was not kept")
	}
	local.admit("gone") // read once, then forgotten by the doorkeeper
	for i := range 20_000 {
		local.admit("other:" + strconv.Itoa(i))
	}
	if !local.admit("held") {
		t.Error("a key the tier holds was refused")
	}
	if local.admit("gone") {
		t.Error("a key the doorkeeper forgot, not in the tier, was admitted")
	}
}
