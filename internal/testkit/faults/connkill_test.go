package faults_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// newEntryCache returns a Cache of entries named name on its own client.
func newEntryCache(t testing.TB, srv *redistest.Server, name string) *cache.Cache[entry] {
	t.Helper()
	c, err := cache.New[entry](srv.Client(t), name, cache.Options[entry]{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Scenario 1: every client connection is killed, repeatedly, under a mixed
// load from two clients. No read may return a wrong value, the local tiers
// are flushed on every kill and refilled afterwards, every call ends by its
// deadline, and the load recovers after the last kill.
func TestConnectionKilled(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t) + "c"
		caches := []*cache.Cache[entry]{newEntryCache(t, srv, name), newEntryCache(t, srv, name)}
		m := mix{
			keys: 256, goroutines: 8, owners: 8, readPct: 90, writePct: 8,
			cacheFor: func(g int) (*cache.Cache[entry], int8) { return caches[g%2], int8(g % 2) },
		}
		var (
			warmup    = time.Second
			killEvery = pick(500*time.Millisecond, time.Second)
			kills     = pick(6, 30)
			tail      = 2500 * time.Millisecond // breaker cooldown (1 s) + a probe + a clean stretch
		)
		ctx, stop := context.WithCancel(context.Background())
		var ops []op
		var wg sync.WaitGroup
		wg.Go(func() { ops = m.run(ctx) })

		start := time.Now()
		var killAt []int64
		tick := time.NewTicker(killEvery)
		time.Sleep(warmup) // baseline window of the measured load, not synchronisation
		for range kills {
			<-tick.C
			killAt = append(killAt, time.Now().UnixNano())
			if n := killAllClients(t, srv); n < 2 {
				t.Errorf("kill %d closed %d connections, want at least one per client", len(killAt), n)
			}
		}
		tick.Stop()
		lastKill := killAt[len(killAt)-1]
		time.Sleep(tail) // load keeps running: the tail is measured
		stop()
		waitOrHang(t, &wg, opTimeout+hangSlack)
		took := time.Since(start)

		writerOf := m.writerOf(func(owner int) int8 { return int8(owner % 2) })
		requireClean(t, checkHistory(ops, writerOf, checkOptions{crossBound: time.Second}))

		for i, c := range caches {
			if st := c.Stats(); st.Invalidations < uint64(kills) {
				t.Errorf("cache %d: %d local-tier flushes for %d connection kills", i, st.Invalidations, kills)
			}
		}
		recoveredAfter := lastKill + int64(tail) - int64(time.Second)
		for _, o := range between(ops, recoveredAfter, time.Now().UnixNano()) {
			if !o.OK {
				t.Errorf("a call failed %s after the last kill: the client did not recover", time.Duration(o.Start-lastKill))
				break
			}
		}
		requireLocalRefill(t, caches[0], m.keys)

		base := summarize(between(ops, 0, killAt[0]), time.Duration(killAt[0]-start.UnixNano()))
		during := summarize(between(ops, killAt[0], lastKill), time.Duration(lastKill-killAt[0]))
		after := summarize(between(ops, recoveredAfter, time.Now().UnixNano()), time.Duration(time.Now().UnixNano()-recoveredAfter))
		figure(t, "load before kills", "%.0f ops/s, p50 %s, p99 %s", base.opsPerSec, ms(base.p50), ms(base.p99))
		figure(t, "load while killing every "+killEvery.String(), "%.0f ops/s, p50 %s, p99 %s, max %s", during.opsPerSec, ms(during.p50), ms(during.p99), ms(during.max))
		figure(t, "load after recovery", "%.0f ops/s, p50 %s, p99 %s", after.opsPerSec, ms(after.p50), ms(after.p99))
		figure(t, "first successful write after a kill", "median %s, max %s", ms(recovery(ops, killAt).p50), ms(recovery(ops, killAt).max))
		v := checkHistory(ops, writerOf, checkOptions{crossBound: time.Second})
		figure(t, "calls failed / total", "%d (%d by the open breaker) / %d over %s (%d kills)", v.Errors, v.BreakerErrors, len(ops), took.Round(time.Millisecond), kills)
	})
}

// recovery returns, over every kill, the time from the kill to the end of
// the first successful write that started after it.
func recovery(ops []op, killAt []int64) summary {
	var d []time.Duration
	for _, k := range killAt {
		first := int64(0)
		for _, o := range ops {
			if o.Kind == opWrite && o.OK && o.Start >= k && (first == 0 || o.End < first) {
				first = o.End
			}
		}
		if first != 0 {
			d = append(d, time.Duration(first-k))
		}
	}
	var s summary
	s.p50, s.p99, s.max = percentiles(d)
	return s
}

// requireLocalRefill reads every key twice through c after the faults and
// fails unless the second pass is served by the local tier.
func requireLocalRefill(t *testing.T, c *cache.Cache[entry], keys int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	found := 0
	for i := range keys {
		if _, err := c.Get(ctx, keyName(int32(i))); err == nil {
			found++
		} else if !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("read after the faults: %v", err)
		}
	}
	before := c.Stats().LocalHits
	for i := range keys {
		_, _ = c.Get(ctx, keyName(int32(i)))
	}
	hits := c.Stats().LocalHits - before
	if found == 0 || hits < uint64(found)/2 {
		t.Errorf("local tier not refilled: %d keys found, %d local hits on the second pass", found, hits)
	}
}

// waitOrHang waits for wg, and fails the test as a hang if that takes
// longer than limit.
func waitOrHang(t *testing.T, wg *sync.WaitGroup, limit time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("hang: workers still running %s after they were told to stop", limit)
	}
}
