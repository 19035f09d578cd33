package lock_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
)

// Environment of a helper process (TestHelperProcess), which is this test
// binary run again with -test.run=^TestHelperProcess$.
const (
	envRole      = "TYPECACHE_LOCK_HELPER" // "contend" or "hold"
	envPrefix    = "TYPECACHE_LOCK_PREFIX" // the Locker's Prefix; also prefixes the check keys
	envTotal     = "TYPECACHE_LOCK_TOTAL"  // acquisitions shared by all processes
	envGoroutine = "TYPECACHE_LOCK_GOROUTINES"
)

// helperCommand returns a command that runs role in a child process against
// srv, with the Locker prefix prefix.
func helperCommand(srv *redistest.Server, role, prefix string, extra ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envRole+"="+role,
		srv.Env(),
		envPrefix+"="+prefix,
	)
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// checkKeys are the plain Redis keys the contending processes use to check
// each other: how many are inside the critical section, how many
// acquisitions happened, the tokens in acquisition order, and violations.
type checkKeys struct{ holders, count, tokens, violations string }

func checkKeysFor(prefix string) checkKeys {
	return checkKeys{prefix + ":holders", prefix + ":count", prefix + ":tokens", prefix + ":violations"}
}

// TestHelperProcess is the body of a child process; run directly, it does
// nothing.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(envRole)
	if role == "" {
		return
	}
	c := redistest.ServerFromEnv().Client(t)
	prefix := os.Getenv(envPrefix)
	newLocker := func() *lock.Locker {
		lk, err := lock.New(c, lock.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(lk.Close)
		return lk
	}
	switch role {
	case "contend":
		total, _ := strconv.Atoi(os.Getenv(envTotal))
		goroutines, _ := strconv.Atoi(os.Getenv(envGoroutine))
		// Goroutines of one Locker queue for a name inside the process; four
		// Lockers per process make four of them contend in Redis at once.
		lockers := []*lock.Locker{newLocker(), newLocker(), newLocker(), newLocker()}
		contend(t, c.Redis(), lockers, checkKeysFor(prefix), int64(total), goroutines)
	case "hold":
		lk := newLocker()
		l, err := lk.Acquire(context.Background(), "crash")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("held %d\n", l.Token())
		io.Copy(io.Discard, os.Stdin) // until the parent kills this process
	default:
		t.Fatalf("unknown helper role %q", role)
	}
}

// contend runs goroutines that take the lock until total acquisitions have
// happened across all processes, recording in Redis anything that shows two
// holders at once or a token that did not increase.
func contend(t *testing.T, redis rueidis.Client, lockers []*lock.Locker, keys checkKeys, total int64, goroutines int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	do := func(cmd rueidis.Completed) int64 {
		n, err := redis.Do(ctx, cmd).AsInt64()
		if err != nil && !rueidis.IsRedisNil(err) {
			t.Errorf("%v: %v", cmd.Commands(), err)
		}
		return n
	}
	b := redis.B()
	var wg sync.WaitGroup
	for i := range goroutines {
		lk := lockers[i%len(lockers)]
		wg.Go(func() {
			for ctx.Err() == nil {
				l, err := lk.Acquire(ctx, "shared")
				if err != nil {
					t.Error(err)
					return
				}
				if do(b.Incr().Key(keys.holders).Build()) != 1 {
					do(b.Incr().Key(keys.violations).Build())
				}
				done := do(b.Incr().Key(keys.count).Build()) > total
				if !done {
					last, err := redis.Do(ctx, b.Lindex().Key(keys.tokens).Index(-1).Build()).AsInt64()
					if err == nil && l.Token() <= last {
						do(b.Incr().Key(keys.violations).Build())
					}
					do(b.Rpush().Key(keys.tokens).Element(strconv.FormatInt(l.Token(), 10)).Build())
				}
				if l.Context().Err() != nil {
					do(b.Incr().Key(keys.violations).Build())
				}
				do(b.Decr().Key(keys.holders).Build())
				if err := l.Release(ctx); err != nil {
					t.Error(err)
				}
				if done {
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestMutualExclusionAcrossProcesses: 4 processes × 16 goroutines take one
// lock 200 times in total. Inside the critical section each holder counts
// itself in a shared Redis counter (it must read 1) and appends its fencing
// token to a list (it must exceed the previous one).
func TestMutualExclusionAcrossProcesses(t *testing.T) {
	const processes, goroutines, total = 4, 16, 200
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		prefix := redistest.Name(t)
		start := time.Now()
		var children []*exec.Cmd
		outputs := make([]*strings.Builder, processes)
		for i := range processes {
			cmd := helperCommand(srv, "contend", prefix,
				envTotal+"="+strconv.Itoa(total), envGoroutine+"="+strconv.Itoa(goroutines))
			outputs[i] = &strings.Builder{}
			cmd.Stdout, cmd.Stderr = outputs[i], outputs[i]
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			children = append(children, cmd)
		}
		for i, cmd := range children {
			if err := cmd.Wait(); err != nil {
				t.Errorf("process %d: %v\n%s", i, err, outputs[i])
			}
		}
		t.Logf("%d acquisitions by %d processes × %d goroutines in %v", total, processes, goroutines, time.Since(start))

		ctx := context.Background()
		raw := srv.Raw(t)
		keys := checkKeysFor(prefix)
		if v, err := raw.Do(ctx, raw.B().Get().Key(keys.violations).Build()).ToString(); !rueidis.IsRedisNil(err) {
			t.Errorf("violations = %q, %v; want none", v, err)
		}
		tokens, err := raw.Do(ctx, raw.B().Lrange().Key(keys.tokens).Start(0).Stop(-1).Build()).AsIntSlice()
		if err != nil {
			t.Fatal(err)
		}
		if len(tokens) != total {
			t.Fatalf("%d tokens recorded, want %d", len(tokens), total)
		}
		for i := 1; i < len(tokens); i++ {
			if tokens[i] <= tokens[i-1] {
				t.Fatalf("token %d at position %d follows %d: not strictly increasing", tokens[i], i, tokens[i-1])
			}
		}
	})
}

// TestCrashTakeover kills a child process while it holds the lock (default
// options, 5 s lease); this process must acquire the lock within lease + 1 s.
func TestCrashTakeover(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		t.Parallel() // the two topologies wait out their leases together
		prefix := redistest.Name(t)
		cmd := helperCommand(srv, "hold", prefix)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			cmd.Wait()
			t.Fatalf("child did not report holding the lock: %v\n%s", err, stderr.String())
		}
		childToken, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "held ")), 10, 64)
		if err != nil {
			t.Fatalf("child said %q", line)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL: no release, no cleanup
			t.Fatal(err)
		}
		killed := time.Now()
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("child exit: %v", err)
		}

		lk := newLocker(t, srv.Client(t), lock.Options{Prefix: prefix})
		if _, err := lk.TryAcquire(context.Background(), "crash"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryAcquire right after the kill = %v, want ErrNotAcquired (the dead holder's lease)", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), lock.DefaultValidity+time.Second)
		defer cancel()
		l, err := lk.Acquire(ctx, "crash")
		if err != nil {
			t.Fatalf("no takeover within lease + 1s: %v", err)
		}
		defer release(t, l)
		t.Logf("took over %v after SIGKILL (lease %v)", time.Since(killed), lock.DefaultValidity)
		if l.Token() <= childToken {
			t.Fatalf("token %d after the dead holder's %d", l.Token(), childToken)
		}
	})
}
