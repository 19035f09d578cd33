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

// loadThroughLease is a cache miss protected across processes: one process
// loads while the others wait for the lease to be released and then read
// the value it wrote.
func loadThroughLease(ctx context.Context, redis rueidis.Client, locker *lock.Locker, key string, load func() ([]byte, error)) ([]byte, error) {
	for {
		value, err := redis.Do(ctx, redis.B().Get().Key(key).Build()).AsBytes()
		if !rueidis.IsRedisNil(err) {
			return value, err // a hit, or a Redis error
		}
		l, err := locker.TryAcquire(ctx, lock.NameFor(key))
		if errors.Is(err, lock.ErrNotAcquired) {
			// Someone is loading: wait for the lease to end, then read again.
			if err := locker.WaitReleased(ctx, lock.NameFor(key)); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		value, err = load() // the watchdog extends the lease meanwhile
		if err != nil {
			l.Release(ctx)
			return nil, err
		}
		// Write the value and release the lease in one round trip.
		if _, err := l.SetAndRelease(ctx, key, value, time.Hour); err != nil && !errors.Is(err, lock.ErrNotHeld) {
			return nil, err
		}
		return value, nil
	}
}

func ExampleLock_SetAndRelease() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	locker, err := lock.New(client, lock.Options{Prefix: "lease", FenceTTL: 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	defer locker.Close()

	value, err := loadThroughLease(context.Background(), client.Redis(), locker, "user:42", func() ([]byte, error) {
		return []byte(`{"name":"Ada"}`), nil // the slow query
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(value))
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

func ExampleNameFor() {
	// Each name is the key, '#' and three characters that put the lock's
	// keys in the key's cluster slot.
	for _, key := range []string{"user:42", "{user:42}:profile", "odd}key"} {
		fmt.Printf("%-18s -> %s\n", key, lock.NameFor(key))
	}
	// Output:
	// user:42            -> user:42#64Y
	// {user:42}:profile  -> {user:42}:profile#1NA
	// odd}key            -> odd}key#1y4
}
