package cache_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/redistest"
)

// Stampede across processes: the parent starts stampedeProcesses copies of
// the test binary running TestHelperProcess; each opens its own client and
// Cache and runs stampedeGoroutines Fetch calls of one cold key at once. The
// loader counts its calls in Redis and takes stampedeLoad.
const (
	stampedeProcesses  = 4
	stampedeGoroutines = 64
	stampedeLoad       = 100 * time.Millisecond
	stampedeEnv        = "TYPECACHE_STAMPEDE"
)

func TestStampedeAcrossProcesses(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		raw := srv.Raw(t)
		ctx := context.Background()
		var all []time.Duration
		for rep := range 5 {
			name := cacheName(t)
			var wg sync.WaitGroup
			outputs := make([]bytes.Buffer, stampedeProcesses)
			errs := make([]error, stampedeProcesses)
			for i := range stampedeProcesses {
				cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
				cmd.Env = append(os.Environ(),
					stampedeEnv+"="+strings.Join([]string{name, strings.Join(srv.Option().InitAddress, ","), strconv.FormatBool(srv.IsCluster())}, ";"))
				cmd.Stdout, cmd.Stderr = &outputs[i], &outputs[i]
				wg.Go(func() { errs[i] = cmd.Run() })
			}
			// Start them together: each pushes to the ready list, then
			// blocks on the go list.
			for range stampedeProcesses {
				if err := raw.Do(ctx, raw.B().Blpop().Key(name+":ready").Timeout(60).Build()).Error(); err != nil {
					t.Fatalf("repetition %d: children not ready: %v", rep, err)
				}
			}
			gos := slices.Repeat([]string{"go"}, stampedeProcesses)
			if err := raw.Do(ctx, raw.B().Rpush().Key(name+":go").Element(gos...).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("repetition %d: child %d: %v\n%s", rep, i, err, outputs[i].String())
				}
				all = append(all, parseLatencies(t, outputs[i].String())...)
			}
			loads, err := raw.Do(ctx, raw.B().Get().Key(name+":loads").Build()).AsInt64()
			if err != nil || loads != 1 {
				t.Fatalf("repetition %d: %d loader calls in %d processes × %d goroutines (%v), want 1", rep, loads, stampedeProcesses, stampedeGoroutines, err)
			}
		}
		slices.Sort(all)
		t.Logf("%d Fetch calls, loader %v: p50 %v, p99 %v", len(all), stampedeLoad,
			all[len(all)/2].Round(time.Millisecond/10), all[len(all)*99/100].Round(time.Millisecond/10))
	})
}

// parseLatencies reads the "latencies: 1.2,3.4" line a child prints (ms).
func parseLatencies(t *testing.T, out string) []time.Duration {
	for line := range strings.Lines(out) {
		list, ok := strings.CutPrefix(strings.TrimSpace(line), "latencies: ")
		if !ok {
			continue
		}
		var ds []time.Duration
		for _, f := range strings.Split(list, ",") {
			ms, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("bad latency %q", f)
			}
			ds = append(ds, time.Duration(ms*float64(time.Millisecond)))
		}
		return ds
	}
	t.Fatalf("no latencies in the child's output:\n%s", out)
	return nil
}

// TestHelperProcess is a child of TestStampedeAcrossProcesses or
// TestLoaderHolderKilled; it does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	if spec := os.Getenv(holderEnv); spec != "" {
		holderProcess(t, spec)
		return
	}
	spec := os.Getenv(stampedeEnv)
	if spec == "" {
		return
	}
	parts := strings.Split(spec, ";")
	name, addrs, cluster := parts[0], strings.Split(parts[1], ","), parts[2] == "true"
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: addrs, ForceSingleClient: !cluster})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	redis := client.Redis()
	ctx := context.Background()
	c, err := cache.New[string](client, name, cache.Options[string]{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	loader := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		if err := redis.Do(ctx, redis.B().Incr().Key(name+":loads").Build()).Error(); err != nil {
			return "", err
		}
		time.Sleep(stampedeLoad) // the slow query
		return "value", nil
	})

	if err := redis.Do(ctx, redis.B().Rpush().Key(name+":ready").Element("1").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := redis.Do(ctx, redis.B().Blpop().Key(name+":go").Timeout(60).Build()).Error(); err != nil {
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
			holderEnv+"="+strings.Join([]string{name, strings.Join(srv.Option().InitAddress, ","), strconv.FormatBool(srv.IsCluster())}, ";"))
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
func holderProcess(t *testing.T, spec string) {
	parts := strings.Split(spec, ";")
	name, addrs, cluster := parts[0], strings.Split(parts[1], ","), parts[2] == "true"
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: addrs, ForceSingleClient: !cluster})
	if err != nil {
		t.Fatal(err)
	}
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
