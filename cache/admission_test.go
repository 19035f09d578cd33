package cache_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestLocalTierAdmitsSecondReads: with a local tier, a key's first remote
// read goes untracked (a Get as a plain GET, a Fetch's read as the script
// alone), its second goes tracked (the script in MULTI with CLIENT CACHING
// YES) and fills the tier, and the third is a local hit; a cold Fetch runs
// two scripts and no transaction. With Options.AdmitFirstRead the first
// read is tracked and fills the tier, a cold Fetch's read too. The servers
// are the test's own, so INFO commandstats counts its commands.
func TestLocalTierAdmitsSecondReads(t *testing.T) {
	// GET counts the GETs of scripts too: a plain GET is checked by the
	// connection that ran it.
	commands := []string{"evalsha", "eval", "multi", "exec", "client|caching"}
	tracked := map[string]int{"multi": 1, "client|caching": 1, "evalsha": 1, "exec": 1}
	type step struct {
		what      string
		want      map[string]int
		lastRan   string // the command a connection ran last, if checked, and
		tracks    bool   // whether that connection tracks
		localHits uint64
	}
	tests := []struct {
		name           string
		admitFirstRead bool
		steps          []step // three Gets of a stored key, then a cold Fetch
	}{
		{"second read", false, []step{
			{"first Get", map[string]int{}, "get", false, 0},
			{"second Get", tracked, "exec", true, 0},
			{"third Get", map[string]int{}, "", false, 1},
			{"cold Fetch", map[string]int{"evalsha": 2}, "evalsha", false, 1},
		}},
		{"AdmitFirstRead", true, []step{
			{"first Get", tracked, "exec", true, 0},
			{"second Get", map[string]int{}, "", false, 1},
			{"third Get", map[string]int{}, "", false, 2},
			{"cold Fetch", map[string]int{"multi": 1, "client|caching": 1, "evalsha": 2, "exec": 1}, "evalsha", false, 2},
		}},
	}
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				name := cacheName(t)
				c := newCache(t, srv.SteadyClient(t), name, cache.Options[int]{TTL: time.Hour, AdmitFirstRead: tt.admitFirstRead})
				// Another process loads the scripts on the keys' nodes, and c
				// learns the cache's generation, before anything is counted.
				warm := newCache(t, srv.SteadyClient(t), name, cache.Options[int]{TTL: time.Hour})
				load := cache.LoaderFunc[int](func(context.Context, string) (int, error) { return 7, nil })
				for _, key := range []string{"k", "cold"} {
					for range 2 {
						if _, err := warm.Fetch(ctx, key, load); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := warm.Delete(ctx, "cold"); err != nil {
					t.Fatal(err)
				}
				if err := c.Set(ctx, "k", 1); err != nil {
					t.Fatal(err)
				}
				for i, step := range tt.steps {
					before := srv.CommandCounts(t)
					if i < 3 {
						mustGet(t, c, "k", 1)
					} else if v, err := c.Fetch(ctx, "cold", load); err != nil || v != 7 {
						t.Fatalf("Fetch = %d, %v; want 7", v, err)
					}
					if diff := cmp.Diff(step.want, redistest.CommandDelta(before, srv.CommandCounts(t), commands...)); diff != "" {
						t.Errorf("%s: commands (-want +got):\n%s", step.what, diff)
					}
					if step.lastRan != "" {
						srv.CheckLastRan(t, step.what, step.lastRan, step.tracks)
					}
					if got := c.Stats().LocalHits; got != step.localHits {
						t.Errorf("%s: %d local hits, want %d", step.what, got, step.localHits)
					}
				}
			})
		}
	})
}

// TestUntrackedReadEndsOlderFills: a tracked read that read a key before
// another process's write must not fill the local tier after an untracked
// read of this process served the write's value, although the write's
// invalidation has not arrived yet (monotonic reads). The test holds the
// tracked read between its reply and its fill, and holds the invalidation
// in a subscriber that comes before the cache's.
func TestUntrackedReadEndsOlderFills(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		name := cacheName(t)
		client := srv.Client(t)
		var holdKey atomic.Pointer[string]
		held, releaseInvalidation := make(chan struct{}), make(chan struct{})
		var holdOnce, releaseOnce sync.Once
		release := func() { releaseOnce.Do(func() { close(releaseInvalidation) }) }
		defer release()
		defer client.Subscribe("", subscriberFunc(func(key string) {
			if k := holdKey.Load(); k != nil && key == *k {
				holdOnce.Do(func() { close(held); <-releaseInvalidation })
			}
		}))()
		c := newCache(t, client, name, cache.Options[int]{TTL: time.Hour})
		writer := newCache(t, srv.Client(t), name, cache.Options[int]{TTL: time.Hour})
		if err := writer.Set(ctx, "k", 1); err != nil {
			t.Fatal(err)
		}
		var trackNext atomic.Bool
		c.SetAdmission(func(string) bool { return trackNext.Load() })
		if _, err := c.Get(ctx, "other"); err == nil { // learns the generation
			t.Fatal(`Get("other") found a value`)
		}

		trackNext.Store(true)
		replied, resume := make(chan struct{}), make(chan struct{})
		var holding atomic.Bool
		c.SetAfterRemoteRead(func(string) {
			if holding.CompareAndSwap(false, true) { // the tracked Get's reply only
				close(replied)
				<-resume
			}
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			if v, err := c.Get(ctx, "k"); err != nil || v != 1 {
				t.Errorf("the tracked Get = %d, %v; want 1, read before the write", v, err)
			}
		}()
		<-replied
		redisKey := c.RedisKey("k")
		holdKey.Store(&redisKey)
		if err := writer.Set(ctx, "k", 2); err != nil {
			t.Fatal(err)
		}
		select {
		case <-held:
		case <-time.After(5 * time.Second):
			t.Fatal("the write's invalidation did not arrive within 5s")
		}
		trackNext.Store(false)
		mustGet(t, c, "k", 2) // untracked
		close(resume)
		<-done
		mustGet(t, c, "k", 2) // the tracked read's 1 must not be in the tier
		release()
	})
}

// TestRefreshKeepsStaleEntryLocal: while a stale value's background
// refresh loads, the local tier keeps serving it, also after the
// doorkeeper forgot the key (it sees remote reads only, and a hot key is
// read locally): the refresh's read is tracked because the tier holds the
// key, so it does not drop the entry as an untracked read would.
func TestRefreshKeepsStaleEntryLocal(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		c := newCache(t, srv.Client(t), cacheName(t), cache.Options[int]{
			TTL: 300 * time.Millisecond, StaleTTL: time.Minute, Jitter: -1, EarlyRefreshBeta: -1, MaxLocalEntries: 1,
		})
		if err := c.Set(ctx, "k", 1); err != nil {
			t.Fatal(err)
		}
		mustGet(t, c, "k", 1)
		mustGet(t, c, "k", 1) // the second read: into the local tier
		if n := c.Stats().LocalEntries; n != 1 {
			t.Fatalf("%d local entries, want 1", n)
		}
		others := make([]string, 10_000) // read once each: the doorkeeper forgets "k"
		for i := range others {
			others[i] = "other:" + strconv.Itoa(i)
		}
		if _, err := c.GetMany(ctx, others); err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond) // past the TTL, within the stale window
		loading, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		defer once.Do(func() { close(release) })
		loader := cache.LoaderFunc[int](func(context.Context, string) (int, error) {
			close(loading)
			<-release
			return 2, nil
		})
		if v, err := c.Fetch(ctx, "k", loader); err != nil || v != 1 {
			t.Fatalf("Fetch of a stale value = %d, %v; want the stale 1", v, err)
		}
		select {
		case <-loading:
		case <-time.After(5 * time.Second):
			t.Fatal("no background refresh within 5s")
		}
		if n := c.Stats().LocalEntries; n != 1 {
			t.Errorf("%d local entries while the refresh loads, want the stale one", n)
		}
		once.Do(func() { close(release) })
		c.WaitRefreshes()
	})
}
