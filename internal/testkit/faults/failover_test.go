package faults_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/lock"
	"github.com/typecache/typecache/ratelimit"
)

// hold is one lock acquisition: from acquisition to the end of its Context.
type hold struct {
	name       string
	token      int64
	start, end int64
}

// Scenario 4: a failover on a cluster with replicas while 8 goroutines
// read, write, lock and rate-limit, once with CLUSTER FAILOVER FORCE and
// once with a coordinated CLUSTER FAILOVER. Once a client has seen the new
// topology, none of its reads is stale; every cache agrees with the new
// masters; locks taken after the failover never overlap, and a rate limit
// keyed after it is exact.
//
// A forced failover does not wait for the replica to catch up, so writes
// the old master acknowledged just before it may be lost (asynchronous
// replication): they are counted apart, and the staleness check trusts only
// the writes made once the failover was over. A coordinated failover loses
// none, so there every write counts.
func TestClusterFailover(t *testing.T) {
	modes := []struct {
		name, arg string
		lossy     bool // may lose writes acknowledged before it
	}{
		{"force", "FORCE", true},
		{"coordinated", "", false},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { clusterFailover(t, mode.arg, mode.lossy) })
	}
}

func clusterFailover(t *testing.T, mode string, lossy bool) {
	srv := redistest.NewCluster(t, redistest.ClusterOptions{Replicas: 1})
	failover(t, srv, lossy, func() { srv.Failover(t, srv.Nodes()[3], mode) }) // returns once the old master is a replica
}

// Scenario 4b: the same load through SENTINEL FAILOVER of a master with one
// replica under three Sentinels, on clients that reach the master through
// the Sentinels (rueidis's ClientOption.Sentinel). A client follows the new
// master when rueidis hears of the switch and closes its connection to the
// old one, which flushes its local tiers; from then on none of its reads is
// stale. Sentinel promotes the replica without waiting for it to catch up,
// and the old master takes writes until the Sentinels turn it into a
// replica seconds later, so writes acknowledged before the failover ended
// may be lost: they are counted apart, as for a forced cluster failover.
func TestSentinelFailover(t *testing.T) {
	if !full {
		t.Skip("a Sentinel failover takes about 20 s: make faults (FAULTS_FULL=1) runs it")
	}
	srv := redistest.NewSentinel(t)
	failover(t, srv, true, func() { srv.SentinelFailover(t) })
}

// failover runs the failover scenario on srv: run fails its master over
// and returns once every node agrees; lossy says it may lose writes
// acknowledged before that.
func failover(t *testing.T, srv *redistest.Server, lossy bool, run func()) {
	name := redistest.Name(t)
	caches := make([]*cache.Cache[entry], 2)
	seen := make([]*topologySeen, 2)
	for i := range caches {
		caches[i], seen[i] = watchedEntryCache(t, srv, name)
	}
	m := mix{
		keys: 128, goroutines: 4, owners: 4, readPct: 90, writePct: 8,
		cacheFor: func(g int) (*cache.Cache[entry], int8) { return caches[g%2], int8(g % 2) },
	}
	client := srv.Client(t)
	locks, err := lock.New(client, lock.Options{Prefix: redistest.Name(t), Validity: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer locks.Close()
	const limit = 50
	limiter, err := ratelimit.New(client, ratelimit.Options{Algorithm: ratelimit.SlidingWindowLog, Limit: limit, Period: time.Minute, Prefix: redistest.Name(t)})
	if err != nil {
		t.Fatal(err)
	}

	ctx, stop := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		ops      []op
		holdsMu  sync.Mutex
		holds    []hold
		admitted sync.Map // rate-limit key → *atomic.Int64
	)
	wg.Go(func() { ops = m.run(ctx) })
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("L%d", i%4)
				callCtx, cancel := context.WithTimeout(context.Background(), opTimeout)
				l, err := locks.Acquire(callCtx, name)
				cancel()
				if err != nil {
					continue
				}
				h := hold{name: name, token: l.Token(), start: time.Now().UnixNano()}
				select { // the protected work
				case <-l.Context().Done():
				case <-time.After(time.Duration(5+g) * time.Millisecond):
				}
				// The hold ends when the holder stops its work, before it
				// releases: the server may grant the lock again before
				// Release returns.
				h.end = time.Now().UnixNano()
				relCtx, cancel := context.WithTimeout(context.Background(), opTimeout)
				_ = l.Release(relCtx)
				cancel()
				holdsMu.Lock()
				holds = append(holds, h)
				holdsMu.Unlock()
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				key := fmt.Sprintf("k%d", time.Now().UnixNano()/int64(500*time.Millisecond)) // a new key every 500 ms
				callCtx, cancel := context.WithTimeout(context.Background(), opTimeout)
				res, err := limiter.Allow(callCtx, key)
				cancel()
				if err == nil && res.Allowed && res.Source == ratelimit.FromRedis {
					n, _ := admitted.LoadOrStore(key, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
				}
			}
		})
	}

	time.Sleep(time.Second) // load before the failover, measured
	failoverAt := time.Now()
	run()
	doneAt := time.Now().UnixNano()
	figure(t, "failover until every node agrees", "%s", ms(time.Duration(doneAt-failoverAt.UnixNano())))
	time.Sleep(pick(2*time.Second, 10*time.Second)) // load after the failover, measured
	stop()
	waitOrHang(t, &wg, opTimeout+hangSlack+time.Second)

	// Each client's reads count from the moment it saw the new master (its
	// topology watch's flush; on Sentinel, the flush when its connection to
	// the old master closed); no client can act on a failover before it
	// learns of it.
	seenAt := make([]int64, len(seen))
	for c, s := range seen {
		if seenAt[c] = s.first(failoverAt.UnixNano()); seenAt[c] == 0 {
			t.Fatalf("client %d never saw the new master", c)
		}
		figure(t, fmt.Sprintf("client %d saw the new master", c), "%s after the failover began", ms(time.Duration(seenAt[c]-failoverAt.UnixNano())))
	}
	checked := slices.DeleteFunc(slices.Clone(ops), func(o op) bool { return o.Kind == opRead && o.Start < seenAt[o.Client] })
	writerOf := m.writerOf(func(owner int) int8 { return int8(owner % 2) })
	trusted := checkOptions{crossBound: time.Second}
	if lossy {
		trusted.trustFrom = doneAt
	}
	v := checkHistory(checked, writerOf, trusted)
	if v.Hangs != 0 {
		t.Errorf("%d calls outlived their %s deadline by more than %s", v.Hangs, opTimeout, hangSlack)
	}
	figure(t, "stale reads once clients saw the new topology", "%d of %d reads", v.Mismatches, v.Reads)
	t.Run("no stale value after the failover", func(t *testing.T) {
		if v.Mismatches != 0 {
			t.Errorf("%d reads made after their client saw the failover returned a value older than a write completed (more than 1 s before the read, if another client's); first ones:\n%s",
				v.Mismatches, joinLines(v.Examples))
		}
	})
	if lossy {
		keys, reads := lostWrites(checked, writerOf, trusted)
		figure(t, "writes acknowledged before the failover and lost (async replication)", "%d keys, contradicted by %d reads", keys, reads)
	}
	after := summarize(between(ops, doneAt, time.Now().UnixNano()), time.Duration(time.Now().UnixNano()-doneAt))
	during := summarize(between(ops, failoverAt.UnixNano(), doneAt), time.Duration(doneAt-failoverAt.UnixNano()))
	figure(t, "cache load during the failover", "%.0f ops/s, p99 %s, max %s", during.opsPerSec, ms(during.p99), ms(during.max))
	figure(t, "cache load after the failover", "%.0f ops/s, p50 %s, p99 %s", after.opsPerSec, ms(after.p50), ms(after.p99))

	// Every cache agrees with the new masters once invalidations settle.
	fresh := newEntryCache(t, srv, name)
	agreed := eventually(t, "caches agree with the servers after the failover", 10*time.Second, func() error {
		return agree(fresh, caches, m.keys)
	})
	figure(t, "caches agree with the new masters", "%s after the load stopped", ms(agreed))

	overlapsAfter, overlaps := 0, 0
	for i, a := range holds {
		for _, b := range holds[i+1:] {
			if a.name == b.name && a.start < b.end && b.start < a.end {
				overlaps++
				if a.start > doneAt && b.start > doneAt {
					overlapsAfter++
				}
			}
		}
	}
	figure(t, "lock holds / overlapping holds (all, taken after the failover)", "%d / %d, %d", len(holds), overlaps, overlapsAfter)
	if len(holds) == 0 {
		t.Error("no lock was taken")
	}
	if overlapsAfter != 0 {
		t.Errorf("%d pairs of holds of one lock overlapped, both taken after the failover", overlapsAfter)
	}
	over := 0
	admitted.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n > limit {
			over++
			t.Logf("rate-limit key %v admitted %d > %d", k, n, limit)
		}
		return true
	})
	figure(t, "rate-limit keys admitting more than the limit", "%d (limit %d per minute, a new key every 500 ms)", over, limit)
	if over > 1 { // only the key live during the failover may lose its state
		t.Errorf("%d rate-limit keys over-admitted; at most the one live during the failover may", over)
	}
}

// agree reports nil when every cache returns what fresh (a cache that has
// seen no fault) reads from Redis, for every key.
func agree(fresh *cache.Cache[entry], caches []*cache.Cache[entry], keys int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range keys {
		key := keyName(int32(i))
		want, wantErr := fresh.Get(ctx, key)
		for c, ca := range caches {
			got, err := ca.Get(ctx, key)
			if (err == nil) != (wantErr == nil) || got != want {
				return fmt.Errorf("cache %d, %s: got %+v, %v; Redis has %+v, %v", c, key, got, err, want, wantErr)
			}
		}
	}
	return nil
}

// lostWrites returns how many keys have a write acknowledged before
// trusted.trustFrom that reads contradict (it did not survive the failover),
// and how many reads contradict one.
func lostWrites(ops []op, writerOf func(int32) int8, trusted checkOptions) (keys, reads int) {
	byKey := map[int32][]op{}
	for _, o := range ops {
		byKey[o.Key] = append(byKey[o.Key], o)
	}
	all := checkOptions{crossBound: trusted.crossBound}
	for _, kops := range byKey {
		if n := checkHistory(kops, writerOf, all).Mismatches - checkHistory(kops, writerOf, trusted).Mismatches; n > 0 {
			keys++
			reads += n
		}
	}
	return keys, reads
}

// watchedEntryCache returns a Cache of entries named name on a client of its
// own, and what records when that client's topology watch flushed it.
func watchedEntryCache(t testing.TB, srv *redistest.Server, name string) (*cache.Cache[entry], *topologySeen) {
	t.Helper()
	client := srv.Client(t)
	seen := &topologySeen{anyFlush: !srv.IsCluster()}
	t.Cleanup(client.Subscribe("", seen))
	c, err := cache.New[entry](client, name, cache.Options[entry]{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, seen
}

// topologySeen is a Subscriber that records when the client's topology
// watch told it to drop everything: the moment the client saw a slot move.
// Flushes for other reasons (a lost connection) do not count: the guarantee
// starts when the topology is seen, and a coordinated failover may drop the
// connection to the old master before the new one is elected. The only way
// to tell them apart without an API for it is the caller's stack. On a
// Sentinel deployment (anyFlush) every flush counts.
type topologySeen struct {
	mu sync.Mutex
	at []int64 // unix ns of each topology flush
	// anyFlush counts every flush: a Sentinel client has no topology
	// watch; it follows a failover by closing its connection to the old
	// master, which flushes everything.
	anyFlush bool
}

func (s *topologySeen) Invalidate(string) {}

func (s *topologySeen) InvalidateAll() {
	if s.anyFlush || fromTopologyWatch() {
		s.mu.Lock()
		s.at = append(s.at, time.Now().UnixNano())
		s.mu.Unlock()
	}
}

// fromTopologyWatch reports whether the client's topology watch is among
// its callers.
func fromTopologyWatch() bool {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "github.com/typecache/typecache/internal/transport.(*topologyWatch)") {
			return true
		}
		if !more {
			return false
		}
	}
}

// first returns the first topology flush at or after from, 0 if none.
func (s *topologySeen) first(from int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.at {
		if at >= from {
			return at
		}
	}
	return 0
}
