package counter_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// helperEnv carries a helperJob to a re-executed test binary.
const helperEnv = "COUNTER_TEST_HELPER"

// helperJob is what one helper process does after the parent says go: Ops
// increments from Goroutines goroutines, through a Counter, a Buffered and a
// Windowed of Name. With Crash, the process SIGKILLs itself once Crash
// increments have returned, with the others in flight.
type helperJob struct {
	Name       string
	Keys       int
	Ops        int
	Goroutines int
	Crash      int
}

// TestHelperProcess is the body of the processes the tests below start; run
// directly, it does nothing.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		return
	}
	var job helperJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		t.Fatal(err)
	}
	client := redistest.ServerFromEnv().Client(t)
	ctr, err := counter.New(client, job.Name, counter.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	buf, err := ctr.Buffered(counter.BufferOptions{FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	win, err := counter.NewWindowed(client, job.Name, counter.WindowOptions{Window: time.Millisecond, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := redistest.Ready(); err != nil {
		t.Fatal(err)
	}
	var direct, buffered, done atomic.Int64
	var wg sync.WaitGroup
	for g := range job.Goroutines {
		wg.Go(func() {
			for i := range job.Ops / job.Goroutines {
				key := "k" + strconv.Itoa((g+i)%job.Keys)
				delta := int64(i%7 - 2)
				if _, err := ctr.Add(background, key, delta); err != nil {
					t.Error(err)
					return
				}
				direct.Add(delta)
				if err := buf.Add("hot"+key, delta); err != nil {
					t.Error(err)
					return
				}
				buffered.Add(delta)
				if _, err := win.Add(background, key, delta); err != nil {
					t.Error(err)
					return
				}
				if done.Add(1) == int64(job.Crash) {
					if self, err := os.FindProcess(os.Getpid()); err == nil {
						_ = self.Kill() // SIGKILL on Unix: no deferred function runs
					}
				}
			}
		})
	}
	wg.Wait()
	if err := buf.Close(background); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("sums %d %d\n", direct.Load(), buffered.Load())
}

// runHelpers runs job in n helper processes on s at once and returns their
// output lines.
func runHelpers(t *testing.T, s *redistest.Server, job helperJob, n int) []*redistest.Child {
	t.Helper()
	spec, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	children := redistest.StartChildren(t, n, func(int) []string { return []string{helperEnv + "=" + string(spec), s.Env()} })
	redistest.Release(t, children)
	return children
}

// TestExactAcrossProcesses: 4 processes × 8 goroutines add to 5 shared keys
// directly and through Buffered; the totals in Redis are exactly the sums of
// what they added.
func TestExactAcrossProcesses(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		job := helperJob{Name: redistest.Name(t), Keys: 5, Ops: 400, Goroutines: 8}
		var direct, buffered int64
		for i, child := range runHelpers(t, s, job, 4) {
			reported := false
			for child.Output.Scan() {
				var d, b int64
				if _, err := fmt.Sscanf(child.Output.Text(), "sums %d %d", &d, &b); err == nil {
					direct, buffered, reported = direct+d, buffered+b, true
				}
			}
			if err := child.Wait(); err != nil || !reported {
				t.Fatalf("helper %d: exit %v, reported %v", i, err, reported)
			}
		}
		ctr, err := counter.New(s.Client(t), job.Name, counter.Options{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		keys, hot := make([]string, job.Keys), make([]string, job.Keys)
		for i := range keys {
			keys[i] = "k" + strconv.Itoa(i)
			hot[i] = "hot" + keys[i]
		}
		for _, tc := range []struct {
			name string
			keys []string
			want int64
		}{{"direct", keys, direct}, {"buffered", hot, buffered}} {
			values, err := ctr.GetMany(background, tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			if got := slicesSum(values); got != tc.want {
				t.Errorf("%s: total in Redis %d, want %d", tc.name, got, tc.want)
			}
		}
		assertEveryKeyExpires(t, s, "counter:"+job.Name+":")
	})
}

// TestCrashLeavesEveryKeyExpiring: a process SIGKILLed while increments (and
// a flush) are in flight leaves no key of the counter without an expiry.
func TestCrashLeavesEveryKeyExpiring(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		job := helperJob{Name: redistest.Name(t), Keys: 50, Ops: 100_000, Goroutines: 8, Crash: 500}
		children := runHelpers(t, s, job, 2)
		for i, child := range children {
			err := child.Wait()
			if status, ok := exitStatus(err); !ok || !status.Signaled() || status.Signal() != syscall.SIGKILL {
				t.Fatalf("helper %d: exit %v, want killed by SIGKILL", i, err)
			}
		}
		if n := assertEveryKeyExpires(t, s, "counter:"+job.Name+":"); n == 0 {
			t.Fatal("the helpers wrote no key before they crashed")
		}
	})
}

func exitStatus(err error) (syscall.WaitStatus, bool) {
	type sysErr interface{ Sys() any }
	if e, ok := err.(sysErr); ok {
		status, ok := e.Sys().(syscall.WaitStatus)
		return status, ok
	}
	var none syscall.WaitStatus
	return none, false
}

// TestEveryKeyExpiresAfterAnySequence: random sequences of every call, bad
// ones included, leave no key without an expiry.
func TestEveryKeyExpiresAfterAnySequence(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		name := redistest.Name(t)
		client := s.Client(t)
		ctr, err := counter.New(client, name, counter.Options{TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		win, err := counter.NewWindowed(client, name, counter.WindowOptions{Window: time.Millisecond, Keep: 2})
		if err != nil {
			t.Fatal(err)
		}
		buf, err := ctr.Buffered(counter.BufferOptions{FlushInterval: time.Hour, MaxKeys: 5})
		if err != nil {
			t.Fatal(err)
		}
		defer buf.Close(background)
		rng := rand.New(rand.NewPCG(1, 2))
		deltas := []int64{1, -1, 0, math.MaxInt64, math.MinInt64, 1 << 60}
		for range 2000 {
			key := "k" + strconv.Itoa(rng.IntN(12))
			delta := deltas[rng.IntN(len(deltas))]
			switch rng.IntN(7) {
			case 0, 1:
				_, _ = ctr.Add(background, key, delta) // overflow refusals included
			case 2:
				_ = ctr.Reset(background, key)
			case 3:
				_, _ = win.Add(background, key, delta)
			case 4:
				_ = buf.Add(key, delta) // ErrBufferFull and ErrOverflow included
			case 5:
				_ = buf.Flush(background)
			case 6:
				_, _ = buf.Get(background, key)
			}
		}
		_ = buf.Flush(background)
		if n := assertEveryKeyExpires(t, s, "counter:"+name+":"); n == 0 {
			t.Fatal("no key written")
		}
	})
}

// assertEveryKeyExpires fails t for every key starting with prefix, on
// every master of s, that has no expiry, and returns how many keys it saw.
func assertEveryKeyExpires(t *testing.T, s *redistest.Server, prefix string) int {
	t.Helper()
	raw := s.Raw(t)
	keys := scanKeys(t, s, prefix)
	for _, key := range keys {
		ms, err := raw.Do(background, raw.B().Pttl().Key(key).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		if ms == -1 {
			t.Errorf("key %q has no expiry", key)
		}
	}
	return len(keys)
}

// scanKeys returns the keys that start with prefix on every master of s.
func scanKeys(t *testing.T, s *redistest.Server, prefix string) []string {
	t.Helper()
	raw := s.Raw(t)
	pattern := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(prefix) + "*"
	var keys []string
	for _, node := range raw.Nodes() {
		cursor := uint64(0)
		for {
			entry, err := node.Do(background, node.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, entry.Elements...)
			if cursor = entry.Cursor; cursor == 0 {
				break
			}
		}
	}
	return keys
}
