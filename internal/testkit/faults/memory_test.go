package faults_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// Scenario 5: maxmemory small with allkeys-lru under a mixed load from two
// clients. Evicted keys read as misses and Fetch reloads them; no read
// returns an overwritten value; the local tiers agree with the server once
// the load stops (evictions invalidate tracked keys).
func TestMemoryPressure(t *testing.T) {
	srv := redistest.NewStandalone(t)
	node := srv.Nodes()[0]
	info, err := node.Do("INFO", "memory")
	if err != nil {
		t.Fatal(err)
	}
	used, _ := strconv.Atoi(field(info, "used_memory"))
	// 1 MiB above what the server uses idle: less than the keys written need.
	if _, err := node.Do("CONFIG", "SET", "maxmemory", strconv.Itoa(used+1<<20)); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Do("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"); err != nil {
		t.Fatal(err)
	}
	name := redistest.Name(t) + "m"
	caches := []*cache.Cache[entry]{newEntryCache(t, srv, name), newEntryCache(t, srv, name)}
	m := mix{
		keys: 32768, goroutines: 8, owners: 8, readPct: 60, writePct: 38,
		cacheFor: func(g int) (*cache.Cache[entry], int8) { return caches[g%2], int8(g % 2) },
	}
	ctx, stop := context.WithTimeout(context.Background(), pick(4*time.Second, 20*time.Second))
	defer stop()
	var ops []op
	var wg sync.WaitGroup
	wg.Go(func() { ops = m.run(ctx) })
	<-ctx.Done()
	waitOrHang(t, &wg, opTimeout+hangSlack)

	writerOf := m.writerOf(func(owner int) int8 { return int8(owner % 2) })
	v := checkHistory(ops, writerOf, checkOptions{crossBound: time.Second, evictions: true})
	requireClean(t, v)
	figure(t, "calls failed under maxmemory", "%d of %d", v.Errors, len(ops))
	info, err = node.Do("INFO", "stats")
	if err != nil {
		t.Fatal(err)
	}
	evicted, _ := strconv.Atoi(field(info, "evicted_keys"))
	if evicted == 0 {
		t.Fatal("no key was evicted: the scenario did not apply memory pressure")
	}
	st := caches[0].Stats()
	figure(t, "evicted keys / local-tier invalidations (cache 0)", "%d / %d", evicted, st.Invalidations)

	fresh := newEntryCache(t, srv, name)
	agreed := eventually(t, "caches agree with the server after evictions", 5*time.Second, func() error {
		return agree(fresh, caches, 2048) // a sample: 3 × 32768 reads per poll would be the slow part
	})
	figure(t, "caches agree with the server", "%s after the load stopped", ms(agreed))

	// Evicted keys are misses that Fetch reloads.
	reloaded := 0
	for i := range 64 {
		key := keyName(int32(i))
		want := entry{Key: key, Seq: 1 << 40}
		got, err := caches[0].Fetch(context.Background(), key, cache.LoaderFunc[entry](func(context.Context, string) (entry, error) { return want, nil }))
		if err != nil {
			t.Fatalf("Fetch(%s): %v", key, err)
		}
		if got == want {
			reloaded++
		}
	}
	if reloaded == 0 {
		t.Error("Fetch reloaded none of the first 64 keys: were none evicted or deleted?")
	}
	figure(t, "Fetch reloads of evicted or deleted keys", "%d of 64", reloaded)
}

// field returns the value of name in INFO-style "name:value" lines.
func field(info, name string) string {
	for line := range strings.Lines(info) {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return value
		}
	}
	return ""
}
