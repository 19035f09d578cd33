package leaderboard

import (
	"testing"
	"time"
)

func TestPeriodOf(t *testing.T) {
	tokyo := time.FixedZone("UTC+9", 9*3600)
	for _, tc := range []struct {
		name   string
		period Period
		loc    *time.Location
		t      time.Time
		label  string
		end    time.Time
	}{
		{"all time", AllTime, time.UTC, time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC), "all", time.Time{}},
		{"daily", Daily, time.UTC, time.Date(2026, 3, 14, 23, 59, 59, 0, time.UTC), "2026-03-14", time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)},
		{"daily, zone ahead", Daily, tokyo, time.Date(2026, 3, 14, 16, 0, 0, 0, time.UTC), "2026-03-15", time.Date(2026, 3, 16, 0, 0, 0, 0, tokyo)},
		{"daily, month end", Daily, time.UTC, time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC), "2026-02-28", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"weekly, Monday", Weekly, time.UTC, time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), "2026-W11", time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)},
		{"weekly, Sunday", Weekly, time.UTC, time.Date(2026, 3, 15, 23, 0, 0, 0, time.UTC), "2026-W11", time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)},
		// 2027-01-01 is a Friday of ISO week 2026-W53.
		{"weekly, across the year", Weekly, time.UTC, time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC), "2026-W53", time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC)},
		{"monthly", Monthly, time.UTC, time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "2026-12", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label, start, end := periodOf(tc.period, tc.loc, tc.t)
			if label != tc.label || !end.Equal(tc.end) {
				t.Fatalf("periodOf = %q, %v; want %q, %v", label, end, tc.label, tc.end)
			}
			if tc.period != AllTime && (tc.t.Before(start) || !tc.t.Before(end) || !start.Before(end)) {
				t.Fatalf("period [%v, %v) does not hold %v", start, end, tc.t)
			}
		})
	}
}
