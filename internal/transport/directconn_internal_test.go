//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package transport

import "testing"

func TestPollBackoff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history []bool // results of the polls made, in order
		skipped int    // reads that do not poll before the next one does
	}{
		{"no poll yet", nil, 0},
		{"polls in time", []bool{true, true, true}, 0},
		{"one late poll", []bool{false}, 1},
		{"three late polls", []bool{false, false, false}, 7},
		{"late polls are capped", []bool{false, false, false, false, false, false, false, false, false, false, false, false}, 1023},
		{"a poll in time resets", []bool{false, false, false, true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p pollBackoff
			for _, inTime := range tc.history {
				for !p.due() {
				}
				p.record(inTime)
			}
			skipped := 0
			for !p.due() {
				skipped++
			}
			if skipped != tc.skipped {
				t.Errorf("%d reads skip polling, want %d", skipped, tc.skipped)
			}
		})
	}
}
