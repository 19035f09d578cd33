package scale_test

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestCheckRead checks the staleness check on hand-made histories: it must
// flag a read older than a write completed more than staleAfter before,
// and nothing else.
func TestCheckRead(t *testing.T) {
	sec := int64(time.Second)
	writes := []writeRec{
		{Key: 1, Version: 1, Start: 0, End: 1 * sec, OK: true},
		{Key: 1, Version: 2, Start: 2 * sec, End: 3 * sec, OK: true},
		{Key: 1, Version: 3, Start: 4 * sec, End: 5 * sec, OK: false},
	}
	for _, tc := range []struct {
		name           string
		read           readRec
		stale, foreign int
	}{
		{"current", readRec{Key: 1, Version: 2, Start: 10 * sec, OK: true}, 0, 0},
		{"a failed write may have happened", readRec{Key: 1, Version: 3, Start: 10 * sec, OK: true}, 0, 0},
		{"older than a write completed 7 s before", readRec{Key: 1, Version: 1, Start: 10 * sec, OK: true}, 1, 0},
		{"older than a write completed 0.5 s before", readRec{Key: 1, Version: 1, Start: 3*sec + sec/2, OK: true}, 0, 0},
		{"version 0 after the first write", readRec{Key: 1, Version: 0, Start: 2*sec + 1, OK: true}, 1, 0},
		{"before any write", readRec{Key: 1, Version: 0, Start: sec / 2, OK: true}, 0, 0},
		{"failed read", readRec{Key: 1, Version: 0, Start: 10 * sec}, 0, 0},
		{"another key's value", readRec{Key: 1, Version: 2, Start: 10 * sec, OK: true, Foreign: true}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s summary
			s.checkRead(tc.read, writes)
			if s.staleReads != tc.stale || s.foreignReads != tc.foreign {
				t.Errorf("stale %d, foreign %d; want %d, %d", s.staleReads, s.foreignReads, tc.stale, tc.foreign)
			}
		})
	}
}

// TestLoadRegister checks the fleet-wide register of running loads that
// the at-most-one-load check rests on.
func TestLoadRegister(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster; run without -short")
	}
	redis := startCluster(t).client(t).Redis()
	p := &fleetProcess{spec: childSpec{Cache: "register"}, redis: redis}
	ctx := context.Background()
	keys := []string{p.loadingKey("k1"), p.sourceKey("k1")}
	start := func() []int64 {
		t.Helper()
		got, err := loadStart.Exec(ctx, redis, keys, nil).AsIntSlice()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := start(); !slices.Equal(got, []int64{0, 0}) {
		t.Errorf("first load: %v, want [0 0] (alone, source version 0)", got)
	}
	if got := start(); !slices.Equal(got, []int64{2, 0}) {
		t.Errorf("second load of the same version: %v, want [2 0]", got)
	}
	if err := p.writeSource(ctx, "k1", entry{Version: 5}); err != nil {
		t.Fatal(err)
	}
	if got := start(); !slices.Equal(got, []int64{1, 5}) {
		t.Errorf("load after a write: %v, want [1 5]", got)
	}
	for range 3 {
		if err := loadEnd.Exec(ctx, redis, keys[:1], nil).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if got := start(); !slices.Equal(got, []int64{0, 5}) {
		t.Errorf("load after the others ended: %v, want [0 5]", got)
	}
}
