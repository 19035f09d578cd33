package counter_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var background = context.Background()

// newCounter returns a counter with a name unique to t.
func newCounter(t testing.TB, c *typecache.Client, ttl time.Duration) *counter.Counter {
	t.Helper()
	ctr, err := counter.New(c, redistest.Name(t), counter.Options{TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return ctr
}

// TestInvalidOptions: every constructor rejects each invalid option with
// ErrInvalidOptions and the field's name.
func TestInvalidOptions(t *testing.T) {
	client := redistest.Standalone(t).Client(t)
	ctr := newCounter(t, client, time.Minute)
	for _, tc := range []struct {
		name, field string
		build       func() error
	}{
		{"nil client", "*typecache.Client", func() error { _, err := counter.New(nil, "a", counter.Options{TTL: time.Second}); return err }},
		{"empty name", "name", func() error { _, err := counter.New(client, "", counter.Options{TTL: time.Second}); return err }},
		{"name with colon", "name", func() error { _, err := counter.New(client, "a:b", counter.Options{TTL: time.Second}); return err }},
		{"name with brace", "name", func() error { _, err := counter.New(client, "a{b}", counter.Options{TTL: time.Second}); return err }},
		{"no TTL", "Options.TTL", func() error { _, err := counter.New(client, "a", counter.Options{}); return err }},
		{"TTL below 1ms", "Options.TTL", func() error { _, err := counter.New(client, "a", counter.Options{TTL: time.Microsecond}); return err }},
		{"negative TTL", "Options.TTL", func() error { _, err := counter.New(client, "a", counter.Options{TTL: -time.Second}); return err }},
		{"negative FlushInterval", "BufferOptions.FlushInterval", func() error { _, err := ctr.Buffered(counter.BufferOptions{FlushInterval: -1}); return err }},
		{"FlushInterval below 1ms", "BufferOptions.FlushInterval", func() error {
			_, err := ctr.Buffered(counter.BufferOptions{FlushInterval: time.Microsecond})
			return err
		}},
		{"negative MaxKeys", "BufferOptions.MaxKeys", func() error { _, err := ctr.Buffered(counter.BufferOptions{MaxKeys: -1}); return err }},
		{"negative ReadCacheSize", "BufferOptions.ReadCacheSize", func() error { _, err := ctr.Buffered(counter.BufferOptions{ReadCacheSize: -1}); return err }},
		{"windowed nil client", "*typecache.Client", func() error {
			_, err := counter.NewWindowed(nil, "a", counter.WindowOptions{Window: time.Minute, Keep: 1})
			return err
		}},
		{"windowed bad name", "name", func() error {
			_, err := counter.NewWindowed(client, "a b", counter.WindowOptions{Window: time.Minute, Keep: 1})
			return err
		}},
		{"no Window", "WindowOptions.Window", func() error { _, err := counter.NewWindowed(client, "a", counter.WindowOptions{Keep: 1}); return err }},
		{"no Keep", "WindowOptions.Keep", func() error {
			_, err := counter.NewWindowed(client, "a", counter.WindowOptions{Window: time.Minute})
			return err
		}},
		{"Keep too large", "WindowOptions.Keep", func() error {
			_, err := counter.NewWindowed(client, "a", counter.WindowOptions{Window: time.Minute, Keep: counter.MaxWindows + 1})
			return err
		}},
		{"Window×Keep too long", "WindowOptions.Window", func() error {
			_, err := counter.NewWindowed(client, "a", counter.WindowOptions{Window: math.MaxInt64 / 2, Keep: 3})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build()
			if !errors.Is(err, counter.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want ErrInvalidOptions naming %s", err, tc.field)
			}
		})
	}
}

// TestBadInput: every method refuses an empty key (and Last a bad n) with a
// clear error, without a round trip.
func TestBadInput(t *testing.T) {
	client := redistest.Standalone(t).Client(t)
	ctr := newCounter(t, client, time.Minute)
	win, err := counter.NewWindowed(client, redistest.Name(t), counter.WindowOptions{Window: time.Minute, Keep: 5})
	if err != nil {
		t.Fatal(err)
	}
	buf, err := ctr.Buffered(counter.BufferOptions{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close(background)
	for _, tc := range []struct {
		name string
		want error
		call func() error
	}{
		{"Add", counter.ErrEmptyKey, func() error { _, err := ctr.Add(background, "", 1); return err }},
		{"Get", counter.ErrEmptyKey, func() error { _, err := ctr.Get(background, ""); return err }},
		{"GetMany", counter.ErrEmptyKey, func() error { _, err := ctr.GetMany(background, []string{"a", ""}); return err }},
		{"Reset", counter.ErrEmptyKey, func() error { return ctr.Reset(background, "") }},
		{"TTL", counter.ErrEmptyKey, func() error { _, err := ctr.TTL(background, ""); return err }},
		{"Windowed.Add", counter.ErrEmptyKey, func() error { _, err := win.Add(background, "", 1); return err }},
		{"Windowed.Last", counter.ErrEmptyKey, func() error { _, err := win.Last(background, "", 1); return err }},
		{"Windowed.Last n=0", counter.ErrInvalidCount, func() error { _, err := win.Last(background, "k", 0); return err }},
		{"Windowed.Last n<0", counter.ErrInvalidCount, func() error { _, err := win.Last(background, "k", -1); return err }},
		{"Windowed.Last n>Keep", counter.ErrInvalidCount, func() error { _, err := win.Last(background, "k", 6); return err }},
		{"Windowed.Sum n=0", counter.ErrInvalidCount, func() error { _, err := win.Sum(background, "k", 0); return err }},
		{"Buffered.Add", counter.ErrEmptyKey, func() error { return buf.Add("", 1) }},
		{"Buffered.Get", counter.ErrEmptyKey, func() error { _, err := buf.Get(background, ""); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if got, err := ctr.GetMany(background, nil); err != nil || len(got) != 0 {
		t.Fatalf("GetMany(nil) = %v, %v; want an empty result", got, err)
	}
}

func TestAddGetReset(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		ctr := newCounter(t, s.Client(t), time.Minute)
		for i, step := range []struct {
			delta, want int64
		}{{1, 1}, {41, 42}, {-50, -8}, {0, -8}, {8, 0}} {
			if got, err := ctr.Add(background, "page", step.delta); err != nil || got != step.want {
				t.Fatalf("step %d: Add(%d) = %d, %v; want %d", i, step.delta, got, err, step.want)
			}
		}
		if got, err := ctr.Get(background, "page"); err != nil || got != 0 {
			t.Fatalf("Get = %d, %v; want 0", got, err)
		}
		if got, err := ctr.Get(background, "absent"); err != nil || got != 0 {
			t.Fatalf("Get of an absent counter = %d, %v; want 0", got, err)
		}
		if _, err := ctr.Add(background, "page", 5); err != nil {
			t.Fatal(err)
		}
		if err := ctr.Reset(background, "page"); err != nil {
			t.Fatal(err)
		}
		if got, err := ctr.Get(background, "page"); err != nil || got != 0 {
			t.Fatalf("Get after Reset = %d, %v; want 0", got, err)
		}
		if ttl, err := ctr.TTL(background, "page"); err != nil || ttl != 0 {
			t.Fatalf("TTL after Reset = %v, %v; want 0 (no key)", ttl, err)
		}
	})
}

// TestKeysDoNotMeet: keys that differ only in braces, colons or escapes are
// different counters, also across names.
func TestKeysDoNotMeet(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		client := s.Client(t)
		a, b := newCounter(t, client, time.Minute), newCounter(t, client, time.Minute)
		keys := []string{"x", "{x}", "x}", "%7D", "}", "a:b", "c{x}", "\x00"}
		for i, key := range keys {
			if _, err := a.Add(background, key, int64(i+1)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := a.GetMany(background, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if v != int64(i+1) {
				t.Errorf("key %q = %d, want %d", keys[i], v, i+1)
			}
		}
		if got, err := b.GetMany(background, keys); err != nil || slicesSum(got) != 0 {
			t.Fatalf("another name reads %v, %v; want zeros", got, err)
		}
	})
}

func slicesSum(s []int64) (n int64) {
	for _, v := range s {
		n += v
	}
	return n
}

// TestTTLFixedFromCreation: the first increment sets the expiry; later ones
// leave it; a key that lost its expiry gets one back at the next Add.
func TestTTLFixedFromCreation(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		ctr := newCounter(t, s.Client(t), time.Hour)
		raw := s.Raw(t)
		rkey := counter.RedisKey(ctr, "k")
		pttl := func() int64 {
			t.Helper()
			ms, err := raw.Do(background, raw.B().Pttl().Key(rkey).Build()).AsInt64()
			if err != nil {
				t.Fatal(err)
			}
			return ms
		}
		if _, err := ctr.Add(background, "k", 1); err != nil {
			t.Fatal(err)
		}
		if ms := pttl(); ms <= 0 || ms > time.Hour.Milliseconds() {
			t.Fatalf("PTTL after the first Add = %d ms, want (0, 1h]", ms)
		}
		// Shorten the expiry by hand: a later Add must not push it back.
		if err := raw.Do(background, raw.B().Pexpire().Key(rkey).Milliseconds(60_000).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if _, err := ctr.Add(background, "k", 1); err != nil {
			t.Fatal(err)
		}
		if ms := pttl(); ms <= 0 || ms > 60_000 {
			t.Fatalf("PTTL after a second Add = %d ms, want the first expiry kept (≤ 60000)", ms)
		}
		if ttl, err := ctr.TTL(background, "k"); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("TTL = %v, %v; want (0, 1m]", ttl, err)
		}
		// A key without expiry (written by hand) gets one.
		if err := raw.Do(background, raw.B().Persist().Key(rkey).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if _, err := ctr.Add(background, "k", 1); err != nil {
			t.Fatal(err)
		}
		if ms := pttl(); ms <= 0 {
			t.Fatalf("PTTL after Add on a key without expiry = %d, want an expiry", ms)
		}
	})
}

// TestOverflow: INCRBY's refusal reaches the caller as ErrOverflow and the
// value is unchanged, in both directions.
func TestOverflow(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		ctr := newCounter(t, s.Client(t), time.Minute)
		for _, tc := range []struct {
			name         string
			start, delta int64
		}{
			{"up", math.MaxInt64, 1},
			{"down", math.MinInt64, -1},
			{"big step up", 1, math.MaxInt64},
			{"big step down", -2, math.MinInt64},
		} {
			t.Run(tc.name, func(t *testing.T) {
				key := tc.name
				if got, err := ctr.Add(background, key, tc.start); err != nil || got != tc.start {
					t.Fatalf("Add(%d) = %d, %v", tc.start, got, err)
				}
				if _, err := ctr.Add(background, key, tc.delta); !errors.Is(err, counter.ErrOverflow) {
					t.Fatalf("Add(%d) on %d: err = %v, want ErrOverflow", tc.delta, tc.start, err)
				}
				if got, err := ctr.Get(background, key); err != nil || got != tc.start {
					t.Fatalf("after the refused Add: %d, %v; want %d unchanged", got, err, tc.start)
				}
			})
		}
		// Exact past 2^53, where a Lua number would round.
		const big = 1<<53 + 1
		if got, err := ctr.Add(background, "exact", big); err != nil || got != big {
			t.Fatalf("Add(2^53+1) = %d, %v", got, err)
		}
		if got, err := ctr.Add(background, "exact", 2); err != nil || got != big+2 {
			t.Fatalf("Add(2) = %d, %v; want %d", got, err, int64(big+2))
		}
	})
}

// TestForeignValue: a key holding something other than an integer is an
// error, not a zero.
func TestForeignValue(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		ctr := newCounter(t, s.Client(t), time.Minute)
		raw := s.Raw(t)
		if err := raw.Do(background, raw.B().Set().Key(counter.RedisKey(ctr, "k")).Value("abc").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if _, err := ctr.Get(background, "k"); err == nil {
			t.Fatal("Get of a non-integer value: no error")
		}
		if _, err := ctr.Add(background, "k", 1); err == nil || errors.Is(err, counter.ErrOverflow) {
			t.Fatalf("Add to a non-integer value: err = %v, want Redis's refusal", err)
		}
	})
}

func TestGetManySpansSlots(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		ctr := newCounter(t, s.Client(t), time.Minute)
		keys := make([]string, 50)
		for i := range keys {
			keys[i] = "k" + strconv.Itoa(i)
			if i%3 != 0 {
				if _, err := ctr.Add(background, keys[i], int64(i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, err := ctr.GetMany(background, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			want := int64(i)
			if i%3 == 0 {
				want = 0
			}
			if v != want {
				t.Errorf("GetMany[%d] (%s) = %d, want %d", i, keys[i], v, want)
			}
		}
	})
}
