package counter_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// reads counts a Buffered's Get by where the value came from.
type reads struct {
	counter.NoopObserver
	cached, remote atomic.Int64
	flushes        atomic.Int64
}

func (r *reads) OnRead(cached bool) {
	if cached {
		r.cached.Add(1)
	} else {
		r.remote.Add(1)
	}
}

func (r *reads) OnFlush(int, time.Duration, error) { r.flushes.Add(1) }

// newBuffered returns a counter with a name unique to t, and a Buffered of
// it whose flusher never runs on its own during the test.
func newBuffered(t *testing.T, s *redistest.Server, obs counter.Observer, opts counter.BufferOptions) (*counter.Counter, *counter.Buffered) {
	t.Helper()
	return newNamedBuffered(t, s, redistest.Name(t), obs, opts)
}

func newNamedBuffered(t *testing.T, s *redistest.Server, name string, obs counter.Observer, opts counter.BufferOptions) (*counter.Counter, *counter.Buffered) {
	t.Helper()
	ctr, err := counter.New(s.Client(t), name, counter.Options{TTL: time.Minute, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = time.Hour
	}
	buf, err := ctr.Buffered(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = buf.Close(background) })
	return ctr, buf
}

func mustGet(t *testing.T, get func(context.Context, string) (int64, error), key string, want int64) {
	t.Helper()
	if got, err := get(background, key); err != nil || got != want {
		t.Fatalf("Get(%q) = %d, %v; want %d", key, got, err, want)
	}
}

// TestBufferedReadYourWrites: Add is visible to this process's Get at once
// and to everyone after Flush.
func TestBufferedReadYourWrites(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		ctr, buf := newBuffered(t, s, nil, counter.BufferOptions{})
		for range 10 {
			if err := buf.Add("views", 3); err != nil {
				t.Fatal(err)
			}
		}
		if err := buf.Add("likes", -2); err != nil {
			t.Fatal(err)
		}
		mustGet(t, buf.Get, "views", 30)
		mustGet(t, ctr.Get, "views", 0) // not flushed yet
		if err := buf.Flush(background); err != nil {
			t.Fatal(err)
		}
		mustGet(t, ctr.Get, "views", 30)
		mustGet(t, ctr.Get, "likes", -2)
		mustGet(t, buf.Get, "views", 30)
		if err := buf.Add("views", 1); err != nil {
			t.Fatal(err)
		}
		mustGet(t, buf.Get, "views", 31)
		if ttl, err := ctr.TTL(background, "views"); err != nil || ttl <= 0 {
			t.Fatalf("TTL after a flush = %v, %v; want an expiry", ttl, err)
		}
	})
}

// TestBufferedCachedReads: a second Get is served locally; a write by
// another process invalidates it; a flush by this one drops it at once.
func TestBufferedCachedReads(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		obs := &reads{}
		name := redistest.Name(t)
		ctr, buf := newNamedBuffered(t, s, name, obs, counter.BufferOptions{})
		if _, err := ctr.Add(background, "k", 5); err != nil {
			t.Fatal(err)
		}
		// A new connection (the first tracked read on a cluster node) drops
		// everything once, so the first read may not be cached.
		redistest.Eventually(t, 5*time.Second, func() error {
			mustGet(t, buf.Get, "k", 5)
			if obs.cached.Load() == 0 {
				return fmt.Errorf("reads: %d remote, none cached", obs.remote.Load())
			}
			return nil
		})
		// Another process adds: the invalidation reaches the cache.
		other, err := counter.New(s.Client(t), name, counter.Options{TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Add(background, "k", 1); err != nil {
			t.Fatal(err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if v, err := buf.Get(background, "k"); err != nil || v != 6 {
				return fmt.Errorf("Get = %d, %v; want 6", v, err)
			}
			return nil
		})
		// This process's own flush: the next Get reads Redis at once.
		if err := buf.Add("k", 10); err != nil {
			t.Fatal(err)
		}
		if err := buf.Flush(background); err != nil {
			t.Fatal(err)
		}
		remote := obs.remote.Load()
		mustGet(t, buf.Get, "k", 16)
		if obs.remote.Load() != remote+1 {
			t.Fatal("the Get after an own flush was served from the cache")
		}
	})
}

// TestBufferedGetWaitsForFlush: a Get of a key whose flush is in flight
// waits for it, and never counts the delta twice or not at all.
func TestBufferedGetWaitsForFlush(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		_, buf := newBuffered(t, s, nil, counter.BufferOptions{})
		if err := buf.Add("k", 7); err != nil {
			t.Fatal(err)
		}
		sending, release := make(chan struct{}), make(chan struct{})
		counter.SetFlushSendingHook(buf, func() { close(sending); <-release })
		flushed := make(chan error)
		go func() { flushed <- buf.Flush(background) }()
		<-sending
		// While the flush is held, Get can only wait: its context ending is
		// the one way out, where a Get that did not wait would return 0.
		ctx, cancel := context.WithCancel(background)
		got := make(chan error)
		go func() {
			v, err := buf.Get(ctx, "k")
			if err == nil {
				err = fmt.Errorf("Get returned %d while the key's flush was in flight", v)
			}
			got <- err
		}()
		cancel()
		if err := <-got; !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		close(release)
		if err := <-flushed; err != nil {
			t.Fatal(err)
		}
		mustGet(t, buf.Get, "k", 7)
	})
}

// TestBufferedGetSpansFlushStart: a flush that takes the pending delta
// between Get's two reads makes Get read again, so the delta is counted
// exactly once.
func TestBufferedGetSpansFlushStart(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		_, buf := newBuffered(t, s, nil, counter.BufferOptions{DisableReadCache: true})
		if err := buf.Add("k", 4); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		counter.SetGetReadingHook(buf, func() {
			once.Do(func() {
				if err := buf.Flush(background); err != nil {
					t.Error(err)
				}
			})
		})
		mustGet(t, buf.Get, "k", 4)
	})
}

// TestBufferedFailedFlushKeepsDeltas: a flush that cannot reach Redis keeps
// its deltas for the next one; a key Redis refuses is dropped and named.
func TestBufferedFailedFlushKeepsDeltas(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		ctr, buf := newBuffered(t, s, nil, counter.BufferOptions{})
		if err := buf.Add("k", 3); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(background)
		cancel()
		if err := buf.Flush(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Flush with a cancelled context: %v", err)
		}
		if err := buf.Add("k", 1); err != nil {
			t.Fatal(err)
		}
		mustGet(t, buf.Get, "k", 4)
		if err := buf.Flush(background); err != nil {
			t.Fatal(err)
		}
		mustGet(t, ctr.Get, "k", 4)

		// Overflow in Redis: dropped, reported, and the value kept.
		if _, err := ctr.Add(background, "full", math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		if err := buf.Add("full", 1); err != nil {
			t.Fatal(err)
		}
		if err := buf.Add("fine", 1); err != nil {
			t.Fatal(err)
		}
		if err := buf.Flush(background); !errors.Is(err, counter.ErrOverflow) {
			t.Fatalf("Flush onto a full counter: %v, want ErrOverflow", err)
		}
		mustGet(t, ctr.Get, "full", math.MaxInt64)
		mustGet(t, ctr.Get, "fine", 1)
		if err := buf.Flush(background); err != nil {
			t.Fatalf("the refused delta was kept: next Flush = %v", err)
		}
	})
}

// TestBufferedLimits: the unflushed sum cannot overflow, MaxKeys bounds the
// buffer, and Close flushes and closes.
func TestBufferedLimits(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		obs := &reads{}
		ctr, buf := newBuffered(t, s, obs, counter.BufferOptions{MaxKeys: 2})
		if err := buf.Add("a", math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		if err := buf.Add("a", 1); !errors.Is(err, counter.ErrOverflow) {
			t.Fatalf("Add past int64: %v, want ErrOverflow", err)
		}
		if err := buf.Add("b", 1); err != nil {
			t.Fatal(err)
		}
		if err := buf.Add("c", 1); !errors.Is(err, counter.ErrBufferFull) {
			t.Fatalf("Add of a third key with MaxKeys 2: %v, want ErrBufferFull", err)
		}
		if err := buf.Add("b", 1); err != nil {
			t.Fatalf("Add to a waiting key while full: %v", err)
		}
		// ErrBufferFull asked the flusher for an early flush.
		redistest.Eventually(t, 5*time.Second, func() error {
			if v, err := ctr.Get(background, "b"); err != nil || v < 1 {
				return fmt.Errorf("b = %d, %v; want the early flush", v, err)
			}
			return nil
		})
		if err := buf.Add("c", 1); err != nil {
			t.Fatal(err)
		}
		if err := buf.Close(background); err != nil {
			t.Fatal(err)
		}
		mustGet(t, ctr.Get, "c", 1)
		if err := buf.Add("c", 1); !errors.Is(err, counter.ErrClosed) {
			t.Fatalf("Add after Close: %v", err)
		}
		if _, err := buf.Get(background, "c"); !errors.Is(err, counter.ErrClosed) {
			t.Fatalf("Get after Close: %v", err)
		}
		if err := buf.Close(background); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// TestBufferedFlushesOnItsOwn: the flusher sends within FlushInterval.
func TestBufferedFlushesOnItsOwn(t *testing.T) {
	redistest.Run(t, func(t *testing.T, s *redistest.Server) {
		obs := &reads{}
		ctr, buf := newBuffered(t, s, obs, counter.BufferOptions{FlushInterval: 5 * time.Millisecond})
		if err := buf.Add("k", 2); err != nil {
			t.Fatal(err)
		}
		redistest.Eventually(t, 5*time.Second, func() error {
			if v, err := ctr.Get(background, "k"); err != nil || v != 2 {
				return fmt.Errorf("k = %d, %v; want 2 after a background flush", v, err)
			}
			if obs.flushes.Load() == 0 {
				return errors.New("no flush reported to the observer")
			}
			return nil
		})
	})
}
