package leaderboard_test

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
)

// boardEnv names, in a helper process, the board to write to.
const boardEnv = "LEADERBOARD_TEST_BOARD"

// Each helper process runs helperGoroutines goroutines, each making
// helperOps calls: Incr of a shared member, then Add of a member of its own.
const (
	helperGoroutines = 4
	helperOps        = 100
	sharedMembers    = 5
)

// TestHelperProcess is the body of the processes TestExactAcrossProcesses
// starts; run directly, it does nothing.
func TestHelperProcess(t *testing.T) {
	name := os.Getenv(boardEnv)
	if name == "" {
		return
	}
	b, err := leaderboard.New(redistest.ServerFromEnv().Client(t), name, leaderboard.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := redistest.Ready(); err != nil {
		t.Fatal(err)
	}
	var sum atomic.Int64
	var wg sync.WaitGroup
	for g := range helperGoroutines {
		wg.Go(func() {
			for i := range helperOps {
				delta := int64(i%3 + 1)
				if _, err := b.Incr(background, "shared"+strconv.Itoa((g+i)%sharedMembers), float64(delta)); err != nil {
					t.Error(err)
					return
				}
				sum.Add(delta)
				own := fmt.Sprintf("p%d-g%d-%d", os.Getpid(), g, i)
				if err := b.Add(background, own, float64(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("sum %d\n", sum.Load())
}

// TestExactAcrossProcesses: 4 processes × 4 goroutines Incr 5 shared
// members and Add members of their own; the shared scores add up exactly to
// what the processes added, and every member is on the board once.
func TestExactAcrossProcesses(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		const processes = 4
		name := redistest.Name(t)
		children := redistest.StartChildren(t, processes, func(int) []string { return []string{boardEnv + "=" + name, s.Env()} })
		redistest.Release(t, children)
		var want int64
		for i, child := range children {
			reported := false
			for child.Output.Scan() {
				var n int64
				if _, err := fmt.Sscanf(child.Output.Text(), "sum %d", &n); err == nil {
					want, reported = want+n, true
				}
			}
			if err := child.Wait(); err != nil || !reported {
				t.Fatalf("helper %d: exit %v, reported %v", i, err, reported)
			}
		}
		b, err := leaderboard.New(s.Client(t), name, leaderboard.Options{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var got float64
		for i := range sharedMembers {
			score, err := b.Score(background, "shared"+strconv.Itoa(i))
			if err != nil {
				t.Fatal(err)
			}
			got += score
		}
		if got != float64(want) {
			t.Fatalf("shared scores add up to %v, want %d", got, want)
		}
		if n, err := b.Len(background); err != nil || n != sharedMembers+processes*helperGoroutines*helperOps {
			t.Fatalf("Len = %d, %v; want %d", n, err, sharedMembers+processes*helperGoroutines*helperOps)
		}
	})
}
