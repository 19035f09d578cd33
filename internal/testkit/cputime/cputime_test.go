//go:build unix

package cputime_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/typecache/typecache/internal/testkit/cputime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestProcessCountsWork: a busy loop of 50 ms of wall time shows in the
// process's CPU time.
func TestProcessCountsWork(t *testing.T) {
	before := cputime.Process()
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	if spent := cputime.Process() - before; spent < 10*time.Millisecond {
		t.Fatalf("50 ms of a busy loop added %v of CPU time", spent)
	}
}
