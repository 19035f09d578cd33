package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// Stampede across processes: the parent starts stampedeProcesses copies of
// the test binary running TestHelperProcess; each opens its own client and
// Cache and runs stampedeGoroutines Fetch calls of one cold key at once. The
// loader takes stampedeLoad and nothing more (it counts its calls in the
// process, which prints the count: a Redis round trip in the loader would
// add to the latencies measured against the loader's time).
const (
	stampedeProcesses  = 4
	stampedeGoroutines = 64
	stampedeLoad       = 100 * time.Millisecond
	stampedeEnv        = "TYPECACHE_STAMPEDE"
)

func TestStampedeAcrossProcesses(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		var all []time.Duration
		for rep := range 5 {
			loads := 0
			name := cacheName(t)
			children := redistest.StartChildren(t, stampedeProcesses, func(int) []string { return []string{stampedeEnv + "=" + name, srv.Env()} })
			redistest.Release(t, children) // all start their Fetch calls together
			for i, child := range children {
				var out strings.Builder
				for child.Output.Scan() {
					out.WriteString(child.Output.Text() + "\n")
				}
				if err := child.Wait(); err != nil {
					t.Fatalf("repetition %d: child %d: %v\n%s", rep, i, err, out.String())
				}
				latencies, n := parseChild(t, out.String())
				all = append(all, latencies...)
				loads += n
			}
			if loads != 1 {
				t.Fatalf("repetition %d: %d loader calls in %d processes × %d goroutines, want 1", rep, loads, stampedeProcesses, stampedeGoroutines)
			}
		}
		slices.Sort(all)
		t.Logf("%d Fetch calls, loader %v: p50 %v, p99 %v", len(all), stampedeLoad,
			all[len(all)/2].Round(time.Millisecond/10), all[len(all)*99/100].Round(time.Millisecond/10))
	})
}

// parseChild reads the "latencies: 1.2,3.4" (ms) and "loads: 1" lines a
// child prints.
func parseChild(t *testing.T, out string) (latencies []time.Duration, loads int) {
	loads = -1
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if n, ok := strings.CutPrefix(line, "loads: "); ok {
			var err error
			if loads, err = strconv.Atoi(n); err != nil {
				t.Fatalf("bad loads line %q", line)
			}
		}
		list, ok := strings.CutPrefix(line, "latencies: ")
		if !ok {
			continue
		}
		for _, f := range strings.Split(list, ",") {
			ms, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("bad latency %q", f)
			}
			latencies = append(latencies, time.Duration(ms*float64(time.Millisecond)))
		}
	}
	if latencies == nil || loads < 0 {
		t.Fatalf("no latencies or loads in the child's output:\n%s", out)
	}
	return latencies, loads
}

// TestHelperProcess is a child of TestStampedeAcrossProcesses or
// TestLoaderHolderKilled; it does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	if name := os.Getenv(holderEnv); name != "" {
		holderProcess(t, name)
		return
	}
	name := os.Getenv(stampedeEnv)
	if name == "" {
		return
	}
	client := redistest.ServerFromEnv().Client(t)
	ctx := context.Background()
	c, err := cache.New[string](client, name, cache.Options[string]{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var loads atomic.Int64
	loader := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		loads.Add(1)
		time.Sleep(stampedeLoad) // the slow query
		return "value", nil
	})

	if err := redistest.Ready(); err != nil {
		t.Fatal(err)
	}
	latencies := make([]string, stampedeGoroutines)
	var wg sync.WaitGroup
	for i := range stampedeGoroutines {
		wg.Go(func() {
			start := time.Now()
			v, err := c.Fetch(ctx, "cold", loader)
			if err != nil || v != "value" {
				t.Errorf("Fetch = %q, %v", v, err)
			}
			latencies[i] = strconv.FormatFloat(float64(time.Since(start))/float64(time.Millisecond), 'f', 2, 64)
		})
	}
	wg.Wait()
	fmt.Println("latencies: " + strings.Join(latencies, ","))
	fmt.Printf("loads: %d\n", loads.Load())
}

// TestLoaderHolderKilled: the process loading a key is SIGKILLed mid-load;
// once its lease lapses another process loads, and every waiter gets the
// value.
func TestLoaderHolderKilled(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		name := cacheName(t)
		const lease = 500 * time.Millisecond
		child := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		child.Env = append(os.Environ(),
			holderEnv+"="+name, srv.Env())
		var out bytes.Buffer
		child.Stdout, child.Stderr = &out, &out
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		if err := raw.Do(ctx, raw.B().Blpop().Key(name+":loading").Timeout(60).Build()).Error(); err != nil {
			t.Fatalf("child never started loading: %v\n%s", err, out.String())
		}
		_ = child.Process.Kill()
		_ = child.Wait()
		killed := time.Now()

		c := newCache(t, srv.Client(t), name, cache.Options[string]{TTL: time.Minute, StampedeLease: lease})
		loader := &countingLoader[string]{fn: func(context.Context, string) (string, error) { return "value", nil }}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if v, err := c.Fetch(callCtx, "k", loader); err != nil || v != "value" {
					t.Errorf("Fetch = %q, %v", v, err)
				}
			})
		}
		wg.Wait()
		if took := time.Since(killed); took > lease+time.Second {
			t.Errorf("the value came %v after the holder died, want ≤ lease + 1s", took)
		}
		if n := loader.calls.Load(); n != 1 {
			t.Fatalf("loader called %d times here, want 1", n)
		}
		if st := c.Stats(); st.LockWaits == 0 {
			t.Fatalf("stats %+v: the Fetch did not wait for the dead holder's lease", st)
		}
	})
}

const holderEnv = "TYPECACHE_HOLDER"

// holderProcess is TestHelperProcess as the loader that gets killed: it
// reports that its load started and blocks.
func holderProcess(t *testing.T, name string) {
	client := redistest.ServerFromEnv().Client(t)
	c, err := cache.New[string](client, name, cache.Options[string]{TTL: time.Minute, StampedeLease: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	redis := client.Redis()
	_, _ = c.Fetch(context.Background(), "k", cache.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		_ = redis.Do(ctx, redis.B().Rpush().Key(name+":loading").Element("1").Build()).Error()
		select {} // killed here
	}))
}

// TestLeaseReleasedAfterLoadTimeout: a loader that uses up LoadTimeout must
// not leave its lease behind; another process then loads at once instead of
// waiting for the lease to lapse.
func TestLeaseReleasedAfterLoadTimeout(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := cacheName(t)
		const lease = 10 * time.Second // far longer than the test waits
		slow := newCache(t, srv.Client(t), name, cache.Options[string]{StampedeLease: lease, LoadTimeout: 100 * time.Millisecond})
		_, err := slow.Fetch(context.Background(), "k", cache.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
			<-ctx.Done() // the load's own deadline
			return "", ctx.Err()
		}))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("slow Fetch = %v, want the loader's DeadlineExceeded", err)
		}

		other := newCache(t, srv.Client(t), name, cache.Options[string]{StampedeLease: lease})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		v, err := other.Fetch(ctx, "k", cache.LoaderFunc[string](func(context.Context, string) (string, error) { return "v", nil }))
		if err != nil || v != "v" {
			t.Fatalf("Fetch in another process = %q, %v: the timed-out load's lease was not released", v, err)
		}
	})
}
