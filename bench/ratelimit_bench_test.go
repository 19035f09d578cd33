package bench

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/typecache/typecache/internal/redistest"
	"github.com/typecache/typecache/ratelimit"
)

// benchLimit and benchPeriod are the limit every rate-limit contender
// enforces in BenchmarkRateLimit: one key is mostly denied, each of 10k keys
// mostly allowed.
const (
	benchLimit  = 1000
	benchPeriod = time.Second
)

// allowFunc makes one rate-limit decision for key.
type allowFunc func(ctx context.Context, key string) (allowed bool, err error)

// A rateContender builds one limiter that admits limit requests per period
// per key (with a burst of limit where the algorithm has one).
type rateContender struct {
	name string
	open func(tb testing.TB, srv *benchServer, limit int, period time.Duration) allowFunc
}

var rateContenders = append(typecacheRateContenders(), rateContender{"redis_rate-gcra",
	func(tb testing.TB, srv *benchServer, limit int, period time.Duration) allowFunc {
		limiter := redis_rate.NewLimiter(srv.goRedis(tb))
		rate := redis_rate.Limit{Rate: limit, Burst: limit, Period: period}
		return func(ctx context.Context, key string) (bool, error) {
			res, err := limiter.Allow(ctx, key, rate)
			if err != nil {
				return false, err
			}
			return res.Allowed > 0, nil
		}
	}})

// typecacheRateContenders is one contender per ratelimit.Algorithm, each on
// its own key prefix.
func typecacheRateContenders() []rateContender {
	var contenders []rateContender
	for _, algorithm := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter, ratelimit.FixedWindow} {
		contenders = append(contenders, rateContender{"typecache-" + algorithm.String(),
			func(tb testing.TB, srv *benchServer, limit int, period time.Duration) allowFunc {
				limiter, err := ratelimit.New(srv.typecacheClient(tb, true), ratelimit.Options{
					Algorithm: algorithm, Limit: limit, Period: period, Prefix: redistest.Prefix(tb),
				})
				if err != nil {
					tb.Fatalf("ratelimit.New: %v", err)
				}
				return func(ctx context.Context, key string) (bool, error) {
					res, err := limiter.Allow(ctx, key)
					return res.Allowed, err
				}
			}})
	}
	return contenders
}

// BenchmarkRateLimit makes decisions from parallelism×GOMAXPROCS goroutines, on one hot
// key and spread over 10k keys. It reports decisions/s and the share of
// decisions that admitted the request.
func BenchmarkRateLimit(b *testing.B) {
	for _, c := range rateContenders {
		for _, keyCount := range []int{1, 10_000} {
			b.Run(c.name+"/"+keysName(keyCount), func(b *testing.B) {
				allow := c.open(b, server(b), benchLimit, benchPeriod)
				prefix := redistest.Prefix(b)
				keys := make([]string, keyCount)
				for i := range keys {
					keys[i] = prefix + strconv.Itoa(i)
				}
				var next, admitted atomic.Int64
				b.ReportAllocs()
				b.SetParallelism(parallelism)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						ok, err := allow(ctx, keys[next.Add(1)%int64(keyCount)])
						if err != nil {
							b.Errorf("%s: Allow: %v", c.name, err)
							return
						}
						if ok {
							admitted.Add(1)
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
				b.ReportMetric(100*float64(admitted.Load())/float64(b.N), "allowed-%")
			})
		}
	}
}

func keysName(n int) string {
	if n == 1 {
		return "1-key"
	}
	return strconv.Itoa(n/1000) + "k-keys"
}

// TestRateLimitContenders checks that every contender admits exactly its
// limit on a fresh key and then denies.
func TestRateLimitContenders(t *testing.T) {
	const limit = 3
	for _, c := range rateContenders {
		t.Run(c.name, func(t *testing.T) {
			allow := c.open(t, server(t), limit, time.Minute)
			key := redistest.Prefix(t) + "client"
			for i := range limit + 1 {
				ok, err := allow(context.Background(), key)
				if err != nil {
					t.Fatalf("decision %d: %v", i+1, err)
				}
				if want := i < limit; ok != want {
					t.Fatalf("decision %d: allowed=%v, want %v", i+1, ok, want)
				}
			}
		})
	}
}
