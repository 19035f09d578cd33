package cache_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// replyFault makes a client lose the reply of one command: the first
// write that contains match, once armed, goes out (so Redis runs the
// command), and the reads of its connection then fail, as when a
// connection is killed after the command was written.
type replyFault struct {
	mu      sync.Mutex
	match   []byte
	victim  net.Conn
	tripped chan struct{} // closed when the command was written
	release chan struct{} // closed to fail the victim's reads
}

type replyLosingConn struct {
	net.Conn
	fault *replyFault
}

func (c *replyLosingConn) Write(p []byte) (int, error) {
	f := c.fault
	f.mu.Lock()
	if f.match != nil && f.victim == nil && bytes.Contains(p, f.match) {
		f.victim = c
		close(f.tripped)
	}
	f.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *replyLosingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	f := c.fault
	f.mu.Lock()
	victim := f.victim == net.Conn(c)
	f.mu.Unlock()
	if victim {
		<-f.release
		c.Conn.Close()
		return 0, errors.New("test: reply lost")
	}
	return n, err
}

// replyLosingClient returns a client on srv whose connections lose a reply
// once the returned fault is armed.
func replyLosingClient(t *testing.T, srv *redistest.Server) (*typecache.Client, *replyFault) {
	t.Helper()
	fault := &replyFault{tripped: make(chan struct{}), release: make(chan struct{})}
	opt := srv.Option()
	opt.DialCtxFn = func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &replyLosingConn{Conn: conn, fault: fault}, nil
	}
	client, err := typecache.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client, fault
}

// arm makes the next write that contains match lose its reply.
func (f *replyFault) arm(match string) {
	f.mu.Lock()
	f.match = []byte(match)
	f.mu.Unlock()
}

// TestLostReplyEndsItsLease: a Fetch whose read took the key's lease but
// lost the reply (the connection died after the command was written)
// loads from the loader, and then ends the lease it may hold, so that
// another process's Fetch of the key is not held for StampedeLease.
func TestLostReplyEndsItsLease(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		losing, fault := replyLosingClient(t, srv)
		opts := cache.Options[int]{StampedeLease: time.Minute}
		first := newCache(t, losing, name, opts)
		second := newCache(t, srv.Client(t), name, opts)
		raw := srv.Raw(t)
		guard := first.RedisGuardKey("k")

		loader := cache.LoaderFunc[int](func(context.Context, string) (int, error) { return 1, nil })
		for i := range 16 { // every node knows the scripts
			if _, err := first.Fetch(ctx, "warm-up"+strconv.Itoa(i), loader); err != nil {
				t.Fatal(err)
			}
		}
		fault.arm("$4\r\nload\r\n") // the mode argument of the read that leases
		done := make(chan error, 1)
		go func() {
			v, err := first.Fetch(ctx, "k", loader)
			if err == nil && v != 1 {
				err = errors.New("value " + strconv.Itoa(v))
			}
			done <- err
		}()
		<-fault.tripped
		redistest.Eventually(t, 10*time.Second, func() error { // the script ran
			g, err := raw.Do(ctx, raw.B().Get().Key(guard).Build()).ToString()
			if err != nil || !strings.HasPrefix(g, "t") {
				return errors.New("no lease yet: " + g)
			}
			return nil
		})
		close(fault.release)
		if err := <-done; err != nil {
			t.Fatalf("Fetch whose reply was lost: %v; want the loader's value", err)
		}

		wctx, cancel := context.WithTimeout(ctx, 10*time.Second) // far below the lease
		defer cancel()
		v, err := second.Fetch(wctx, "k", cache.LoaderFunc[int](func(context.Context, string) (int, error) { return 2, nil }))
		if err != nil || v != 2 {
			t.Fatalf("other process's Fetch = %d, %v; want 2 at once (not held for the lost lease)", v, err)
		}
	})
}

// TestFetchManyWaitsTogether: a FetchMany whose keys another process is
// loading waits for all of them in one goroutine (one wake-up, one read
// of the waiting keys per node), not one goroutine per key, and gets
// every value without loading.
func TestFetchManyWaitsTogether(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		holder := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		waiter := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		keys := make([]string, 64)
		for i := range keys {
			keys[i] = "k" + strconv.Itoa(i)
		}
		values := func(keys []string) map[string]int {
			m := make(map[string]int, len(keys))
			for _, k := range keys {
				m[k] = len(k)
			}
			return m
		}
		loading, finish := make(chan struct{}), make(chan struct{})
		held := make(chan error, 1)
		go func() {
			_, err := holder.FetchMany(ctx, keys, cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
				close(loading)
				<-finish
				return values(keys), nil
			}))
			held <- err
		}()
		<-loading // the holder has every lease

		var busy atomic.Int64
		allBusy := make(chan struct{})
		waiter.SetOnLeaseBusy(func(string) {
			if busy.Add(1) == int64(len(keys)) {
				close(allBusy)
			}
		})
		goroutines := runtime.NumGoroutine()
		var loads atomic.Int64
		got := make(chan map[string]int, 1)
		go func() {
			m, err := waiter.FetchMany(ctx, keys, cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
				loads.Add(1)
				return values(keys), nil
			}))
			if err != nil {
				t.Error(err)
			}
			got <- m
		}()
		<-allBusy
		if extra := runtime.NumGoroutine() - goroutines; extra > 8 {
			t.Errorf("%d more goroutines while %d keys wait, want a few", extra, len(keys))
		}
		close(finish)
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		if m := <-got; len(m) != len(keys) || loads.Load() != 0 {
			t.Fatalf("waiting FetchMany: %d values, %d loads; want %d values, no load", len(m), loads.Load(), len(keys))
		}
	})
}

// TestFetchManyLoadsBesideWaits: a FetchMany loads the keys it leased at
// once, and keys it waited for (their holder gave up) in a second LoadMany
// call (or calls) while the first still runs, within Options.MaxConcurrentLoads.
func TestFetchManyLoadsBesideWaits(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		holder := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		waiter := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour, MaxConcurrentLoads: 2})
		holding, giveUp := make(chan struct{}), make(chan struct{})
		held := make(chan error, 1)
		go func() {
			_, err := holder.FetchMany(ctx, []string{"b", "c"}, cache.BatchLoaderFunc[int](func(context.Context, []string) (map[string]int, error) {
				close(holding)
				<-giveUp
				return nil, errors.New("holder gave up") // its leases are released
			}))
			held <- err
		}()
		<-holding

		first, later, finishFirst := make(chan []string, 1), make(chan []string, 2), make(chan struct{})
		releaseFirst := sync.OnceFunc(func() { close(finishFirst) })
		defer releaseFirst() // a failed check below must not leave the loader blocked
		var calls atomic.Int64
		got := make(chan map[string]int, 1)
		go func() {
			m, err := waiter.FetchMany(ctx, []string{"a", "b", "c"}, cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
				if calls.Add(1) == 1 {
					first <- keys
					<-finishFirst // still running when the second call starts
				} else {
					later <- keys
				}
				m := map[string]int{}
				for _, k := range keys {
					m[k] = len(k)
				}
				return m, nil
			}))
			if err != nil {
				t.Error(err)
			}
			got <- m
		}()
		if keys := <-first; len(keys) != 1 || keys[0] != "a" {
			t.Fatalf("first LoadMany of %v, want [a] (b and c are held elsewhere)", keys)
		}
		close(giveUp)
		if err := <-held; err == nil {
			t.Fatal("holder's FetchMany succeeded, want its loader's error")
		}
		// b and c, freed together, usually come in one call; a loaded
		// machine may deliver their wake-ups apart.
		seen := map[string]bool{}
		for len(seen) < 2 {
			for _, k := range <-later {
				if k != "b" && k != "c" || seen[k] {
					t.Fatalf("a later LoadMany loaded %q, want b and c once each", k)
				}
				seen[k] = true
			}
		}
		releaseFirst()
		if m := <-got; len(m) != 3 {
			t.Fatalf("FetchMany = %v, want a, b and c", m)
		}
	})
}
