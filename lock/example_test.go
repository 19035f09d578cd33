package lock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/lock"
)

func ExampleLocker_Acquire() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	locker, err := lock.New(client, lock.Options{}) // 5 s lease, extended every 5/3 s while held
	if err != nil {
		log.Fatal(err)
	}
	defer locker.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // bounds the wait only
	defer cancel()
	l, err := locker.Acquire(ctx, "nightly-report") // blocks until held or ctx ends
	if err != nil {
		log.Fatal(err) // wraps ctx's error if the wait timed out
	}
	defer l.Release(context.Background())

	// Work under l.Context(): it is cancelled if the lock is lost.
	if err := buildReport(l.Context(), l.Token()); err != nil {
		log.Print(err)
	}
}

func buildReport(ctx context.Context, fencingToken int64) error { return ctx.Err() }

func ExampleLocker_TryAcquire() {
	var locker *lock.Locker // from lock.New
	ctx := context.Background()

	l, err := locker.TryAcquire(ctx, "migration")
	switch {
	case errors.Is(err, lock.ErrNotAcquired):
		fmt.Println("another process is migrating; skipping")
		return
	case err != nil:
		log.Fatal(err)
	}
	defer l.Release(ctx)
	// ... migrate ...
}

// fencedStore is a resource that protects itself with fencing tokens: it
// refuses a write whose token is lower than one it has already accepted, so
// a paused holder whose lease lapsed cannot overwrite its successor's work.
type fencedStore struct {
	mu      sync.Mutex
	highest int64
	value   string
}

func (s *fencedStore) Write(token int64, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token < s.highest {
		return fmt.Errorf("stale fencing token %d < %d", token, s.highest)
	}
	s.highest, s.value = token, value
	return nil
}

func ExampleLock_Token() {
	var locker *lock.Locker // from lock.New
	store := &fencedStore{}
	ctx := context.Background()

	l, err := locker.Acquire(ctx, "inventory")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Release(ctx)
	// Hand the token to the resource with every write; the resource, not
	// the lock, rejects writes from a holder that lost the lock.
	if err := store.Write(l.Token(), "42 widgets"); err != nil {
		log.Print(err)
	}
}

// lossCounter counts lost locks for a dashboard and logs each loss; the
// other events are ignored.
type lossCounter struct {
	lock.NoopObserver
	lost atomic.Int64
}

func (c *lossCounter) OnLost(name string, cause error) {
	c.lost.Add(1)
	log.Printf("lock %q lost: %v", name, cause)
}

func ExampleObserver() {
	var client *typecache.Client // from typecache.NewClient
	losses := &lossCounter{}
	locker, err := lock.New(client, lock.Options{Observer: losses})
	if err != nil {
		log.Fatal(err)
	}
	defer locker.Close()
}
