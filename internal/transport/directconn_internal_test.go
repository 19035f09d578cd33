//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package transport

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestPollBackoff: a connection whose polls keep missing polls ever more
// rarely, and only as many polls in time as it missed bring it back.
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
		{"a poll in time lowers one level", []bool{false, false, false, true}, 3},
		{"as many in time as late bring it back", []bool{false, false, true, true}, 0},
		{"mostly late stays rare", []bool{false, false, true, false, false, true, false}, 7},
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

// TestReplyPollAdaptive: no more reads poll at once than GOMAXPROCS less
// one, so that polls never take every processor; a poll that ends frees
// its place. A poll that is off never polls.
func TestReplyPollAdaptive(t *testing.T) {
	if newReplyPoll(0) != nil || newReplyPoll(0).begin() {
		t.Fatal("a poll with a zero window polls")
	}
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			p := newReplyPoll(50 * time.Microsecond)
			for i := range procs - 1 {
				if !p.begin() {
					t.Fatalf("poll %d of %d refused", i+1, procs-1)
				}
			}
			if p.begin() {
				t.Fatalf("a poll began while %d others kept every other processor busy", procs-1)
			}
			if procs > 1 {
				p.end()
				if !p.begin() {
					t.Fatal("a poll refused after one ended")
				}
			}
			if got := p.polls.Load(); got != uint64(procs-1+min(procs-1, 1)) {
				t.Fatalf("%d polls counted", got)
			}
		})
	}
}
