//go:build unix

package cputime_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/typecache/typecache/internal/testkit/cputime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestProcessCountsWork: a busy loop shows in the process's CPU time,
// however loaded the machine: it spins until 20 ms of CPU time have
// passed, and fails only if 10 s of wall time do not get there.
func TestProcessCountsWork(t *testing.T) {
	before := cputime.Process()
	deadline := time.Now().Add(10 * time.Second)
	for cputime.Process()-before < 20*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("10 s of a busy loop added %v of CPU time", cputime.Process()-before)
		}
	}
}
