package ratelimit_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/cputime"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
)

// BenchmarkAllow measures decisions per second with parallel callers (32 per
// CPU, so rueidis pipelines them), per algorithm, on one hot key and spread
// over 10,000 keys. The limit (100,000 per 10 s) keeps most decisions on the
// "allowed" path that writes.
func BenchmarkAllow(b *testing.B) {
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	for _, topology := range []struct {
		name   string
		server func(testing.TB) *redistest.Server
	}{{"standalone", redistest.Standalone}, {"cluster", redistest.Cluster}} {
		for _, algo := range algorithms {
			for _, workload := range []struct {
				name string
				keys []string
			}{{"single-key", keys[:1]}, {"10k-keys", keys}} {
				b.Run(topology.name+"/"+algo.String()+"/"+workload.name, func(b *testing.B) {
					benchmarkAllow(b, topology.server(b), algo, workload.keys)
				})
			}
		}
	}
}

func benchmarkAllow(b *testing.B, srv *redistest.Server, algo ratelimit.Algorithm, keys []string) {
	l, err := ratelimit.New(srv.Client(b), ratelimit.Options{
		Algorithm: algo, Limit: 100_000, Period: 10 * time.Second, Prefix: redistest.Name(b),
	})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := next.Add(7919)
		for pb.Next() {
			i++
			if _, err := l.Allow(ctx, keys[i%uint64(len(keys))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkLocalDeny measures a decision answered by the local deny cache: no
// round trip.
func BenchmarkLocalDeny(b *testing.B) {
	l, err := ratelimit.New(redistest.Standalone(b).Client(b), ratelimit.Options{
		Limit: 1, Period: time.Hour, LocalDenyCache: true, Prefix: redistest.Name(b),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		if _, err := l.Allow(ctx, "abuser"); err != nil {
			b.Fatal(err)
		}
	}
	localDenial := func(res ratelimit.Result, err error) bool {
		if err != nil || res.Source != ratelimit.FromLocalDenyCache {
			b.Errorf("Allow = %+v, %v; want a local denial", res, err)
			return false
		}
		return true
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		start := cputime.Process()
		for b.Loop() {
			if !localDenial(l.Allow(ctx, "abuser")) {
				return
			}
		}
		b.ReportMetric(float64(cputime.Process()-start)/float64(b.N), "cpu-ns/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !localDenial(l.Allow(ctx, "abuser")) {
					return
				}
			}
		})
	})
}
