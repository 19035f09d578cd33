package lock_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/redistest"
	"github.com/typecache/typecache/lock"
)

func TestSetAndRelease(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		lk := newLocker(t, srv.Client(t), lock.Options{})
		prefix := redistest.Prefix(t)
		get := func(key string) string {
			t.Helper()
			v, err := raw.Do(ctx, raw.B().Get().Key(key).Build()).ToString()
			if err != nil {
				t.Fatalf("GET %q: %v", key, err)
			}
			return v
		}
		// Each case takes the lock NameFor(key), may disturb it through
		// another client, and then stores "loaded" with SetAndRelease.
		for _, tc := range []struct {
			name       string
			key        string
			disturb    func(t *testing.T, l *lock.Lock, key string)
			wantStored bool
			wantErr    error
			wantValue  string
		}{
			{name: "plain key", key: prefix + "user:42", wantStored: true, wantValue: "loaded"},
			{name: "hash-tagged key", key: "{" + prefix + "user:42}:profile", wantStored: true, wantValue: "loaded"},
			{name: "brace without tag", key: prefix + "odd}key", wantStored: true, wantValue: "loaded"},
			{
				name: "lease lost, value absent", key: prefix + "lost-absent",
				disturb: func(t *testing.T, l *lock.Lock, _ string) {
					raw.Do(ctx, raw.B().Del().Key(l.Key()).Build())
				},
				wantStored: true, wantErr: lock.ErrNotHeld, wantValue: "loaded",
			},
			{
				name: "lease lost, newer value present", key: prefix + "lost-present",
				disturb: func(t *testing.T, l *lock.Lock, key string) {
					raw.Do(ctx, raw.B().Del().Key(l.Key()).Build())
					raw.Do(ctx, raw.B().Set().Key(key).Value("newer").Build())
				},
				wantStored: false, wantErr: lock.ErrNotHeld, wantValue: "newer",
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l, err := lk.TryAcquire(ctx, lock.NameFor(tc.key))
				if err != nil {
					t.Fatal(err)
				}
				if tc.disturb != nil {
					tc.disturb(t, l, tc.key)
				}
				stored, err := l.SetAndRelease(ctx, tc.key, []byte("loaded"), time.Minute)
				if stored != tc.wantStored || !errors.Is(err, tc.wantErr) {
					t.Fatalf("SetAndRelease = %v, %v; want %v, %v", stored, err, tc.wantStored, tc.wantErr)
				}
				if got := get(tc.key); got != tc.wantValue {
					t.Fatalf("value = %q, want %q", got, tc.wantValue)
				}
				if ttl := pttl(t, raw, tc.key); tc.wantStored && ttl < 59*time.Second {
					t.Fatalf("value PTTL = %v, want about 1m", ttl)
				}
				if l.Context().Err() == nil {
					t.Fatal("Context still live after SetAndRelease")
				}
				again, err := lk.TryAcquire(ctx, lock.NameFor(tc.key))
				if err != nil {
					t.Fatalf("lock not free after SetAndRelease: %v", err)
				}
				release(t, again)
			})
		}

		t.Run("key in another slot", func(t *testing.T) {
			l, err := lk.TryAcquire(ctx, "unrelated")
			if err != nil {
				t.Fatal(err)
			}
			defer release(t, l)
			if _, err := l.SetAndRelease(ctx, "{user:43}"+prefix, []byte("x"), time.Minute); err == nil || errors.Is(err, lock.ErrNotHeld) {
				t.Fatalf("SetAndRelease to another slot = %v, want a slot error", err)
			}
			if l.Context().Err() != nil {
				t.Fatal("a refused SetAndRelease gave the lock up")
			}
			if _, err := l.SetAndRelease(ctx, prefix+"unrelated", []byte("x"), 0); err == nil {
				t.Fatal("SetAndRelease with ttl 0 succeeded")
			}
		})
	})
}

// TestLoadThroughLease runs the cache-miss recipe of ExampleLock_SetAndRelease
// from 2 clients × 8 goroutines on one cold key: the loader runs once and
// every caller gets its value.
func TestLoadThroughLease(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, b := twoLockers(t, srv, lock.Options{})
		clients := []*typecache.Client{srv.Client(t), srv.Client(t)}
		key := redistest.Prefix(t) + "cold"
		var loads atomic.Int64
		load := func() ([]byte, error) {
			loads.Add(1)
			time.Sleep(100 * time.Millisecond) // the slow query being protected
			return []byte("loaded"), nil
		}
		var wg sync.WaitGroup
		for i, lk := range []*lock.Locker{a, b} {
			for range 8 {
				wg.Go(func() {
					value, err := loadThroughLease(ctx, clients[i].Redis(), lk, key, load)
					if err != nil || string(value) != "loaded" {
						t.Errorf("loadThroughLease = %q, %v", value, err)
					}
				})
			}
		}
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("loader ran %d times, want 1", n)
		}
	})
}
