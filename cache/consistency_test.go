package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// The tests below force, with hooks and channels, each interleaving that
// once broke a guarantee of the cache. Two Caches on two clients stand for
// two processes: they share nothing but Redis.

// source is a source of truth with versions, for loaders and writers.
type source struct {
	mu     sync.Mutex
	values map[string]int
}

func newSource() *source { return &source{values: map[string]int{}} }

func (s *source) get(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values[key]
}

func (s *source) set(key string, v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[key] = v
}

func (s *source) writer() cache.Writer[int] {
	return cache.WriterFunc[int](func(_ context.Context, key string, v int) error { s.set(key, v); return nil })
}

// blockingLoader reads the source when called, reports that on read, and
// returns what it read once release is closed.
func blockingLoader(src *source, read chan<- struct{}, release <-chan struct{}) cache.LoaderFunc[int] {
	return func(_ context.Context, key string) (int, error) {
		v := src.get(key)
		close(read)
		<-release
		return v, nil
	}
}

// blockingWriter writes v to src, closes written, and holds the Put's
// cache update until resume is closed.
func blockingWriter(src *source, written chan<- struct{}, resume <-chan struct{}) cache.Writer[int] {
	return cache.WriterFunc[int](func(_ context.Context, key string, v int) error {
		src.set(key, v)
		close(written)
		<-resume
		return nil
	})
}

// pairOfCaches returns two caches named name that stand for two processes,
// or one cache twice when same is set.
func pairOfCaches(t *testing.T, srv *redistest.Server, name string, same bool) (*cache.Cache[int], *cache.Cache[int]) {
	first := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
	if same {
		return first, first
	}
	return first, newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
}

// slowLoad starts a Fetch of "k" by c whose loader reads src, a new source
// where "k" is 1, and waits; it returns once the loader has read, with src
// and the function that lets the loader return and waits until the Fetch
// returned what the loader read.
func slowLoad(t *testing.T, c *cache.Cache[int]) (src *source, finish func()) {
	src = newSource()
	src.set("k", 1)
	const want = 1
	read, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		if v, err := c.Fetch(context.Background(), "k", blockingLoader(src, read, release)); err != nil || v != want {
			t.Errorf("the slow load's Fetch = %d, %v; want what it read, %d", v, err, want)
		}
	}()
	<-read
	return src, func() {
		close(release)
		<-done
	}
}

// TestReplyReadBeforeOwnWrite: a read whose reply left Redis before this
// process's write completed, and that is inserted after it, must not be
// served afterwards (read your writes). The hook holds the reader between
// its reply and its insertion while the writer sets and reads.
func TestReplyReadBeforeOwnWrite(t *testing.T) {
	for _, write := range []string{"set", "delete"} {
		t.Run(write, func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				ctx := context.Background()
				// The read under test is tracked: its reply may enter the tier.
				c := newCache(t, srv.Client(t), cacheName(t), cache.Options[int]{TTL: time.Hour, AdmitFirstRead: true})
				if err := c.Set(ctx, "k", 1); err != nil {
					t.Fatal(err)
				}
				replied, resume := make(chan struct{}), make(chan struct{})
				var once sync.Once
				c.SetAfterRemoteRead(func(string) {
					once.Do(func() { close(replied); <-resume })
				})
				done := make(chan struct{})
				go func() {
					defer close(done)
					if v, err := c.Get(ctx, "k"); err != nil || v != 1 {
						t.Errorf("reader's Get = %d, %v; want the value before the write", v, err)
					}
				}()
				<-replied
				var want int
				if write == "set" {
					want = 2
					if err := c.Set(ctx, "k", 2); err != nil {
						t.Fatal(err)
					}
				} else if err := c.Delete(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				close(resume)
				<-done
				for range 3 { // the stale reply must not have entered the local tier
					v, err := c.Get(ctx, "k")
					if write == "delete" && !errors.Is(err, cache.ErrNotFound) || write == "set" && (err != nil || v != want) {
						t.Fatalf("Get after own %s = %d, %v", write, v, err)
					}
				}
			})
		})
	}
}

// TestNoLoadAfterValueStored: a process that found the lease busy must not
// load once the holder has stored the value (it reads the value instead),
// and exactly one loader runs.
func TestNoLoadAfterValueStored(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		a := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		b := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		src := newSource()
		src.set("k", 7)
		read, release := make(chan struct{}), make(chan struct{})
		aDone := make(chan struct{})
		go func() {
			defer close(aDone)
			if v, err := a.Fetch(ctx, "k", blockingLoader(src, read, release)); err != nil || v != 7 {
				t.Errorf("holder's Fetch = %d, %v", v, err)
			}
		}()
		<-read // A holds the lease and is loading
		busy := make(chan struct{})
		var once sync.Once
		b.SetOnLeaseBusy(func(string) {
			once.Do(func() {
				close(busy)
				<-aDone // A stores and releases before B waits
			})
		})
		bLoads := &countingLoader[int]{fn: func(_ context.Context, key string) (int, error) { return src.get(key), nil }}
		bDone := make(chan struct{})
		go func() {
			defer close(bDone)
			if v, err := b.Fetch(ctx, "k", bLoads); err != nil || v != 7 {
				t.Errorf("waiter's Fetch = %d, %v", v, err)
			}
		}()
		<-busy
		close(release)
		<-bDone
		if n := bLoads.calls.Load(); n != 0 {
			t.Fatalf("the waiter loaded %d times after the holder stored the value", n)
		}
	})
}

// TestWriteBeatsLoad: a load that read the source before a write completed
// must not store after it, in the same process or another one, whether the
// write is a Put, a Set or a Delete; and a Fetch that starts after an own
// write does not join a load that began before it.
func TestWriteBeatsLoad(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sameCache bool
		write     string
	}{
		{"put/other-process", false, "put"}, {"put/same-process", true, "put"},
		{"set/other-process", false, "set"}, {"delete/other-process", false, "delete"},
		{"delete/same-process", true, "delete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				ctx := context.Background()
				loading, writing := pairOfCaches(t, srv, cacheName(t), tc.sameCache)
				src, finishLoad := slowLoad(t, loading) // it has read 1 from the source
				var err error
				switch tc.write {
				case "put":
					err = writing.Put(ctx, "k", 2, src.writer())
				case "set":
					src.set("k", 2)
					err = writing.Set(ctx, "k", 2)
				case "delete":
					src.set("k", 2)
					err = writing.Delete(ctx, "k")
				}
				if err != nil {
					t.Fatal(err)
				}
				// A Fetch after the write, in the writing process, never joins
				// the old load: it reads 2 from Redis or loads it.
				fresh := cache.LoaderFunc[int](func(_ context.Context, key string) (int, error) { return src.get(key), nil })
				if v, err := writing.Fetch(ctx, "k", fresh); err != nil || v != 2 {
					t.Fatalf("Fetch after the %s = %d, %v; want 2", tc.write, v, err)
				}
				finishLoad()
				for _, c := range []*cache.Cache[int]{loading, writing} {
					if v, err := c.Get(ctx, "k"); err == nil && v != 2 {
						t.Fatalf("after the slow load ended the cache holds %d, older than the completed write", v)
					}
				}
				if st := loading.Stats(); tc.write == "put" && tc.sameCache && st.StoreFailures == 0 {
					t.Fatalf("stats %+v: the superseded load was not counted", st)
				}
			})
		})
	}
}

// TestGetHitEndsOlderLoadsJoins: once Get served a value that another
// process wrote while this process was loading the key, a Fetch that
// starts after that Get must not join the load, which read the source
// before the write (monotonic reads). With a local tier the write's
// invalidation forgets the load's flight; without one (the reads are not
// tracked) the Get's hit must.
func TestGetHitEndsOlderLoadsJoins(t *testing.T) {
	for _, local := range []bool{true, false} {
		t.Run(fmt.Sprintf("local-tier=%v", local), func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				ctx := context.Background()
				name := cacheName(t)
				opts := cache.Options[int]{TTL: time.Hour, DisableLocal: !local}
				loading := newCache(t, srv.Client(t), name, opts)
				writing := newCache(t, srv.Client(t), name, opts)
				src, finishLoad := slowLoad(t, loading) // it has read 1 from the source
				if err := writing.Put(ctx, "k", 2, src.writer()); err != nil {
					t.Fatal(err)
				}
				// The Get may come before the Put's invalidation: read until
				// it serves the Put's value.
				redistest.Eventually(t, 5*time.Second, func() error {
					if v, err := loading.Get(ctx, "k"); err != nil || v != 2 {
						return fmt.Errorf("Get after the Put = %d, %v; want 2", v, err)
					}
					return nil
				})
				fetched := make(chan int, 1)
				go func() {
					v, err := loading.Fetch(ctx, "k", cache.LoaderFunc[int](func(_ context.Context, key string) (int, error) { return src.get(key), nil }))
					if err != nil {
						t.Error(err)
					}
					fetched <- v
				}()
				select {
				case v := <-fetched:
					if v != 2 {
						t.Fatalf("Fetch after a Get that served 2 = %d", v)
					}
					finishLoad()
				case <-time.After(time.Second):
					finishLoad()
					t.Fatalf("Fetch after a Get that served 2 joined the load that read 1: it returned %d once the load ended", <-fetched)
				}
			})
		})
	}
}

// TestConcurrentPuts: two Puts whose source writes and cache updates land
// in opposite orders must not leave the older value cached: the later
// cache update sees the other write's mark and deletes instead.
func TestConcurrentPuts(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		first := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		second := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		src := newSource()
		written, resume := make(chan struct{}), make(chan struct{})
		slow := blockingWriter(src, written, resume)
		done := make(chan error, 1)
		go func() { done <- first.Put(ctx, "k", 1, slow) }()
		<-written
		if err := second.Put(ctx, "k", 2, src.writer()); err != nil { // source 2, cache 2
			t.Fatal(err)
		}
		close(resume) // the first Put's cache update comes last, with 1
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := src.get("k"); got != 2 {
			t.Fatalf("source = %d", got)
		}
		for _, c := range []*cache.Cache[int]{first, second} {
			if v, err := c.Get(ctx, "k"); err == nil && v != 2 {
				t.Fatalf("cache holds %d while the source holds 2", v)
			}
		}
	})
}

// TestPutAfterNewerLoad: a load whose store lands between a Put's source
// write and its cache update may hold a newer value than the Put's (a
// third write reached the source in between, its cache update still on its
// way): the load's store counts as a write, so the Put deletes instead of
// storing its older value over the load's.
func TestPutAfterNewerLoad(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		var procs [3]*cache.Cache[int] // a Put, a later Put, a load
		for i := range procs {
			procs[i] = newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		}
		putter, late, loader := procs[0], procs[1], procs[2]
		reader := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour, DisableLocal: true})
		src := newSource()
		if err := putter.Delete(ctx, "k"); err != nil { // a write mark, no value
			t.Fatal(err)
		}
		firstWritten, firstResume := make(chan struct{}), make(chan struct{})
		lateWritten, lateResume := make(chan struct{}), make(chan struct{})
		firstDone, lateDone := make(chan error, 1), make(chan error, 1)
		go func() { firstDone <- putter.Put(ctx, "k", 1, blockingWriter(src, firstWritten, firstResume)) }()
		<-firstWritten // source 1
		go func() { lateDone <- late.Put(ctx, "k", 2, blockingWriter(src, lateWritten, lateResume)) }()
		<-lateWritten // source 2; neither Put has updated the cache
		v, err := loader.Fetch(ctx, "k", cache.LoaderFunc[int](func(_ context.Context, key string) (int, error) { return src.get(key), nil }))
		if err != nil || v != 2 {
			t.Fatalf("Fetch = %d, %v; want the source's 2", v, err)
		}
		close(firstResume) // the first Put's cache update, with 1, after the load stored 2
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		if v, err := reader.Get(ctx, "k"); err == nil && v != 2 {
			t.Fatalf("after the first Put, the cache holds %d while the source holds 2", v)
		}
		if n := putter.Stats().PutConflicts; n != 1 {
			t.Fatalf("the first Put's PutConflicts = %d, want 1 (the load's store overlapped it)", n)
		}
		close(lateResume)
		if err := <-lateDone; err != nil {
			t.Fatal(err)
		}
		if v, err := reader.Get(ctx, "k"); err == nil && v != 2 {
			t.Fatalf("after both Puts, the cache holds %d while the source holds 2", v)
		}
	})
}

// TestSequentialPutsStore: a Put that no other write overlaps stores its
// value, whether it follows the load of a Fetch, a Get (the key in the
// local tier: the Put takes one round trip) or another Put right before
// it; none deletes the entry (Stats.PutConflicts stays 0).
func TestSequentialPutsStore(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		c := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		other := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour, DisableLocal: true})
		src := newSource()
		src.set("k", 100)
		if v, err := c.Fetch(ctx, "k", cache.LoaderFunc[int](func(_ context.Context, key string) (int, error) { return src.get(key), nil })); err != nil || v != 100 {
			t.Fatalf("Fetch = %d, %v", v, err)
		}
		for i := range 12 {
			if i%3 == 1 {
				if _, err := c.Get(ctx, "k"); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Put(ctx, "k", i, src.writer()); err != nil {
				t.Fatal(err)
			}
			if v, err := other.Get(ctx, "k"); err != nil || v != i {
				t.Fatalf("after Put %d, Redis holds %d, %v; want %d", i, v, err, i)
			}
		}
		if n := c.Stats().PutConflicts; n != 0 {
			t.Fatalf("PutConflicts = %d, want 0", n)
		}
	})
}

// TestOverlappingPutCountsItsDelete: a Put that another write overlapped
// deletes the entry, and says so in Stats.PutConflicts and to a
// ConflictObserver, whatever the other write was: a Set, a Set whose
// value expired before the Put's update (its mark outlives it), a Delete.
func TestOverlappingPutCountsItsDelete(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(ctx context.Context, c *cache.Cache[int], key string) error
	}{
		{"set", func(ctx context.Context, c *cache.Cache[int], key string) error { return c.Set(ctx, key, 7) }},
		{"expired set", func(ctx context.Context, c *cache.Cache[int], key string) error {
			if err := c.Set(ctx, key, 7, cache.WithTTL(20*time.Millisecond)); err != nil {
				return err
			}
			time.Sleep(60 * time.Millisecond)
			return nil
		}},
		{"delete", func(ctx context.Context, c *cache.Cache[int], key string) error { return c.Delete(ctx, key) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				ctx := context.Background()
				name := cacheName(t)
				seen := &conflictRecorder{}
				first := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour, Observer: seen})
				second := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
				src := newSource()
				overlap := cache.WriterFunc[int](func(ctx context.Context, key string, v int) error {
					src.set(key, v)
					return tc.write(ctx, second, key) // another write, after this Put began
				})
				if err := first.Put(ctx, "k", 1, overlap); err != nil {
					t.Fatal(err)
				}
				if _, err := second.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
					t.Fatalf("Get after the overlapped Put: %v; want ErrNotFound (deleted)", err)
				}
				if n := first.Stats().PutConflicts; n != 1 || seen.keys.Load() != 1 {
					t.Fatalf("PutConflicts = %d, observed %d; want 1, 1", n, seen.keys.Load())
				}
			})
		})
	}
}

// TestGuardKeyOnlyWhenNeeded: a stored value carries its key's write mark
// (its version), so a key costs Redis one key, unless its mark must
// outlive it: after a Delete, or a value that expires sooner than the
// mark's window. A lease is a guard while its load runs.
func TestGuardKeyOnlyWhenNeeded(t *testing.T) {
	loader := cache.LoaderFunc[int](func(context.Context, string) (int, error) { return 1, nil })
	for _, tc := range []struct {
		name  string
		write func(ctx context.Context, c *cache.Cache[int]) error
		guard bool
	}{
		{"set", func(ctx context.Context, c *cache.Cache[int]) error { return c.Set(ctx, "k", 1) }, false},
		{"load", func(ctx context.Context, c *cache.Cache[int]) error { _, err := c.Fetch(ctx, "k", loader); return err }, false},
		{"put", func(ctx context.Context, c *cache.Cache[int]) error {
			return c.Put(ctx, "k", 1, cache.WriterFunc[int](func(context.Context, string, int) error { return nil }))
		}, false},
		{"set after delete", func(ctx context.Context, c *cache.Cache[int]) error {
			if err := c.Delete(ctx, "k"); err != nil {
				return err
			}
			return c.Set(ctx, "k", 1)
		}, false},
		{"delete", func(ctx context.Context, c *cache.Cache[int]) error { return c.Delete(ctx, "k") }, true},
		{"short set", func(ctx context.Context, c *cache.Cache[int]) error {
			return c.Set(ctx, "k", 1, cache.WithTTL(time.Second))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
				ctx := context.Background()
				c := newCache(t, srv.Client(t), cacheName(t), cache.Options[int]{TTL: time.Hour})
				if err := tc.write(ctx, c); err != nil {
					t.Fatal(err)
				}
				raw := srv.Raw(t)
				n, err := raw.Do(ctx, raw.B().Exists().Key(c.RedisGuardKey("k")).Build()).AsInt64()
				if err != nil {
					t.Fatal(err)
				}
				if got := n == 1; got != tc.guard {
					t.Fatalf("guard key exists: %v, want %v", got, tc.guard)
				}
			})
		})
	}
}

// conflictRecorder counts OnPutConflict calls.
type conflictRecorder struct {
	cache.NoopObserver
	keys atomic.Int64
}

func (r *conflictRecorder) OnPutConflict(string) { r.keys.Add(1) }

// TestFetchManyJoinsLoads: FetchMany neither loads a key that a Fetch of
// this process is loading, nor one another process holds the lease of; it
// loads the rest in one batch, and cancelling its ctx does not cancel its
// loads for the Fetch that joined them.
func TestFetchManyJoinsLoads(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		c := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		other := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		src := newSource()
		for i, key := range []string{"local", "remote", "free"} {
			src.set(key, i+1)
		}
		localRead, localRelease := make(chan struct{}), make(chan struct{})
		remoteRead, remoteRelease := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = c.Fetch(ctx, "local", blockingLoader(src, localRead, localRelease)) })
		wg.Go(func() { _, _ = other.Fetch(ctx, "remote", blockingLoader(src, remoteRead, remoteRelease)) })
		<-localRead
		<-remoteRead
		var batches atomic.Int64
		var loadedKeys []string
		batchLoader := cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
			batches.Add(1)
			loadedKeys = append(loadedKeys, keys...)
			out := map[string]int{}
			for _, k := range keys {
				out[k] = src.get(k)
			}
			return out, nil
		})
		busy := make(chan struct{})
		var once sync.Once
		c.SetOnLeaseBusy(func(key string) {
			if key == "remote" {
				once.Do(func() { close(busy) })
			}
		})
		got := make(chan map[string]int, 1)
		go func() {
			m, err := c.FetchMany(ctx, []string{"local", "remote", "free"}, batchLoader)
			if err != nil {
				t.Error(err)
			}
			got <- m
		}()
		<-busy // "free" was loaded first; now it waits for "remote"
		close(localRelease)
		close(remoteRelease)
		m := <-got
		wg.Wait()
		if m["local"] != 1 || m["remote"] != 2 || m["free"] != 3 {
			t.Fatalf("FetchMany = %v", m)
		}
		if batches.Load() != 1 || len(loadedKeys) != 1 || loadedKeys[0] != "free" {
			t.Fatalf("LoadMany called %d times with %v; want once with [free]", batches.Load(), loadedKeys)
		}

		// Detached loads: the FetchMany that leads a key gives up, a Fetch
		// that joined it still gets the value.
		read, release := make(chan struct{}), make(chan struct{})
		slowBatch := cache.BatchLoaderFunc[int](func(_ context.Context, keys []string) (map[string]int, error) {
			close(read)
			<-release
			return map[string]int{"later": 9}, nil
		})
		cctx, cancel := context.WithCancel(ctx)
		manyDone := make(chan error, 1)
		go func() { _, err := c.FetchMany(cctx, []string{"later"}, slowBatch); manyDone <- err }()
		<-read
		fetched := make(chan int, 1)
		go func() {
			v, _ := c.Fetch(ctx, "later", cache.LoaderFunc[int](func(context.Context, string) (int, error) {
				t.Error("the joining Fetch loaded")
				return 0, nil
			}))
			fetched <- v
		}()
		cancel()
		if err := <-manyDone; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled FetchMany = %v", err)
		}
		close(release)
		if v := <-fetched; v != 9 {
			t.Fatalf("joining Fetch = %d, want 9", v)
		}
	})
}

// TestLongLoadKeepsItsLease: a load that runs several lease lifetimes keeps
// its lease (extended while it runs), so another process waits for it
// instead of loading too. The lease is a Redis expiry, so the test lets
// real time pass: 4 lease lifetimes while the loader is held.
func TestLongLoadKeepsItsLease(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		// Long enough that a loaded machine's scheduling delays (the read's
		// reply, the extension timer at a third of the lease, its round
		// trip) do not let it lapse: 300 ms lapsed once in 30 runs beside
		// two CPU burners and two other test jobs (load average 8 on 2
		// cores). The default lease is 5 s.
		const lease = time.Second
		name := cacheName(t)
		a := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour, StampedeLease: lease})
		b := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour, StampedeLease: lease})
		src := newSource()
		src.set("k", 7)
		read, release := make(chan struct{}), make(chan struct{})
		var releaseOnce sync.Once
		unblock := func() { releaseOnce.Do(func() { close(release) }) }
		defer unblock() // a failed check below must not leave the load blocked
		aDone := make(chan struct{})
		go func() {
			defer close(aDone)
			if v, err := a.Fetch(ctx, "k", blockingLoader(src, read, release)); err != nil || v != 7 {
				t.Errorf("holder's Fetch = %d, %v", v, err)
			}
		}()
		<-read
		bLoads := &countingLoader[int]{fn: func(_ context.Context, key string) (int, error) { return src.get(key), nil }}
		bDone := make(chan struct{})
		go func() {
			defer close(bDone)
			if v, err := b.Fetch(ctx, "k", bLoads); err != nil || v != 7 {
				t.Errorf("waiter's Fetch = %d, %v", v, err)
			}
		}()
		raw := srv.Raw(t)
		for end := time.Now().Add(4 * lease); time.Now().Before(end); time.Sleep(lease / 6) {
			if pttl, err := raw.Do(ctx, rediscmd.Retried(raw.B().Pttl().Key(a.RedisGuardKey("k")).Build())).AsInt64(); err != nil || pttl <= 0 {
				t.Fatalf("the loading process's lease lapsed while it loaded: PTTL %d, %v", pttl, err)
			}
		}
		unblock()
		<-aDone
		<-bDone
		if n := bLoads.calls.Load(); n != 0 {
			t.Fatalf("the waiting process loaded %d times while the first still held its lease", n)
		}
	})
}
