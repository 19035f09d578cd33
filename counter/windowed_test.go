package counter_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/testkit/testclock"
)

func newWindowed(t *testing.T, s *redistest.Server, opts counter.WindowOptions) (*counter.Windowed, *testclock.Clock) {
	t.Helper()
	w, err := counter.NewWindowed(s.Client(t), redistest.Name(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Mid-window, so that moving by whole windows never lands on an edge.
	clock := testclock.New(time.Date(2026, 3, 14, 9, 26, 30, 0, time.UTC))
	counter.SetClock(w, clock.Now)
	return w, clock
}

func counts(windows []counter.Window) []int64 {
	n := make([]int64, len(windows))
	for i, w := range windows {
		n[i] = w.Count
	}
	return n
}

// TestWindowed: increments land in the window of the clock; Last reads the
// last n oldest first with their starts; Sum adds them up.
func TestWindowed(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		w, clock := newWindowed(t, s, counter.WindowOptions{Window: time.Minute, Keep: 4})
		for _, step := range []struct {
			delta, want int64
			advance     time.Duration
		}{
			{1, 1, 0}, {2, 3, 0}, // window 0
			{5, 5, time.Minute},       // window 1
			{-1, -1, 2 * time.Minute}, // window 3; window 2 stays empty
		} {
			clock.Advance(step.advance)
			if got, err := w.Add(background, "page", step.delta); err != nil || got != step.want {
				t.Fatalf("Add(%d) = %d, %v; want %d", step.delta, got, err, step.want)
			}
		}
		windows, err := w.Last(background, "page", 4)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := counts(windows), []int64{3, 5, 0, -1}; !slices.Equal(got, want) {
			t.Fatalf("Last(4) = %v, want %v", got, want)
		}
		current := clock.Now().Truncate(time.Minute)
		for i, win := range windows {
			if want := current.Add(-time.Duration(3-i) * time.Minute); !win.Start.Equal(want) {
				t.Errorf("window %d starts %v, want %v", i, win.Start, want)
			}
		}
		if got, err := w.Last(background, "page", 2); err != nil || !slices.Equal(counts(got), []int64{0, -1}) {
			t.Fatalf("Last(2) = %v, %v", got, err)
		}
		if sum, err := w.Sum(background, "page", 4); err != nil || sum != 7 {
			t.Fatalf("Sum(4) = %d, %v; want 7", sum, err)
		}
		// Another key, and the same key in another windowed set, are apart.
		if got, err := w.Last(background, "other", 4); err != nil || !slices.Equal(counts(got), []int64{0, 0, 0, 0}) {
			t.Fatalf("Last of another key = %v, %v", got, err)
		}
		w2, _ := newWindowed(t, s, counter.WindowOptions{Window: time.Minute, Keep: 4})
		counter.SetClock(w2, clock.Now)
		if got, err := w2.Sum(background, "page", 4); err != nil || got != 0 {
			t.Fatalf("another name reads %d, %v", got, err)
		}
	})
}

// TestWindowedExpiry: each window's key expires (Keep+1) windows after its
// first increment.
func TestWindowedExpiry(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		w, _ := newWindowed(t, s, counter.WindowOptions{Window: time.Minute, Keep: 3})
		if _, err := w.Add(background, "k", 1); err != nil {
			t.Fatal(err)
		}
		keys := scanKeys(t, s, counter.WindowedPrefix(w))
		if len(keys) != 1 {
			t.Fatalf("keys %v, want one window", keys)
		}
		raw := s.Raw(t)
		ms, err := raw.Do(background, raw.B().Pttl().Key(keys[0]).Build()).AsInt64()
		if err != nil || ms <= 3*time.Minute.Milliseconds() || ms > 4*time.Minute.Milliseconds() {
			t.Fatalf("PTTL of a window = %d ms, %v; want (3m, 4m]", ms, err)
		}
	})
}

// TestWindowedOverflow: a window's count never wraps, nor does Sum.
func TestWindowedOverflow(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		w, clock := newWindowed(t, s, counter.WindowOptions{Window: time.Second, Keep: 2})
		if _, err := w.Add(background, "k", math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Add(background, "k", 1); !errors.Is(err, counter.ErrOverflow) {
			t.Fatalf("Add past int64: %v", err)
		}
		clock.Advance(time.Second)
		if _, err := w.Add(background, "k", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Sum(background, "k", 2); !errors.Is(err, counter.ErrOverflow) {
			t.Fatalf("Sum past int64: %v", err)
		}
	})
}
