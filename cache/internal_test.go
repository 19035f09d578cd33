package cache

import (
	"bytes"
	"errors"
	"math"
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
		it.init("k", 0, envelope{loadTime: delta}, now+int64(gap), 1)
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
	far.init("k", 0, envelope{loadTime: delta}, time.Now().UnixNano()+int64(time.Hour), 1)
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
// into a version and an envelope whose payload is the tail of the input;
// never a panic. A header built as the scripts build it reads back.
func FuzzParseStored(f *testing.F) {
	stored := func(version, gen uint64, envelope []byte) []byte {
		b := []byte{storedMagic}
		for _, stamp := range []uint64{version, gen} {
			for i := stampBytes - 1; i >= 0; i-- {
				b = append(b, byte(stamp>>(8*i)))
			}
		}
		return append(b, envelope...)
	}
	f.Add(uint64(1765000000000001), []byte{})
	f.Add(uint64(1765000000000001), appendEnvelopeHeader(nil, 0, time.Minute, time.Millisecond))
	f.Add(uint64(1<<56-1), appendEnvelopeHeader(nil, flagAbsent, 0, 0))
	f.Add(uint64(0), []byte("17650000000000011765000000000001\xc1\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, version uint64, data []byte) {
		_, _, _ = parseStored(string(data)) // any input: no panic
		version &= 1<<(8*stampBytes) - 1
		s := string(stored(version, 42, data))
		got, env, err := parseStored(s)
		if _, envErr := parseEnvelope(data); (err == nil) != (envErr == nil) {
			t.Fatalf("parseStored(%x): %v, but its envelope alone: %v", s, err, envErr)
		}
		if err == nil && (got != version || !bytes.HasSuffix(data, env.payload)) {
			t.Fatalf("parseStored(%x) = %d, %+v; want version %d", s, got, env, version)
		}
	})
}
