package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/rueidis"

	"github.com/typecache/typecache/ratelimit"
)

// benchLimit and benchPeriod are the limit every rate-limit contender
// enforces in BenchmarkRateLimit: one key is mostly denied, each of 10k keys
// mostly allowed.
const (
	benchLimit  = 1000
	benchPeriod = time.Second
)

// allowFunc makes one rate-limit decision for key; local reports a denial
// made in the process, without a round trip.
type allowFunc func(ctx context.Context, key string) (allowed, local bool, err error)

// A rateContender builds one limiter that admits limit requests per period
// per key (with a burst of limit where the algorithm has one).
type rateContender struct {
	name string
	open func(tb testing.TB, srv *benchServer, limit int, period time.Duration) allowFunc
}

var rateContenders = append(append([]rateContender{{"floor-fixed-window", openFloor}}, typecacheRateContenders()...), rateContender{"redis_rate-gcra",
	func(tb testing.TB, srv *benchServer, limit int, period time.Duration) allowFunc {
		limiter := redis_rate.NewLimiter(srv.goRedis(tb))
		rate := redis_rate.Limit{Rate: limit, Burst: limit, Period: period}
		return func(ctx context.Context, key string) (bool, bool, error) {
			res, err := limiter.Allow(ctx, key, rate)
			if err != nil {
				return false, false, err
			}
			return res.Allowed > 0, false, nil
		}
	}})

// floorScript is the least a correct fixed-window decision can do in Redis:
// count the request with INCRBY and, on the window's first request, set the
// key's expiry to the window's end, computed on the client's clock. The reply
// is the count alone. It does not read Redis's clock, counts denied requests
// too, and gives no retry time: everything a real limiter adds costs more
// than this per round trip, so no limiter can beat it by much.
var floorScript = rueidis.NewLuaScript(`
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n == tonumber(ARGV[1]) then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return n
`)

// openFloor is the floor contender: one EVALSHA of floorScript per decision
// on a plain rueidis client, hand-written, its key the caller's key.
func openFloor(tb testing.TB, srv *benchServer, limit int, period time.Duration) allowFunc {
	client := srv.rueidisClient(tb, true) // as the typecache contenders' client
	return func(ctx context.Context, key string) (bool, bool, error) {
		windowEnd := strconv.FormatInt(time.Now().Add(period).UnixMilli(), 10)
		n, err := floorScript.Exec(ctx, client, []string{key}, []string{"1", windowEnd}).AsInt64()
		return n <= int64(limit), false, err
	}
}

// typecacheRateContenders is one contender per ratelimit.Algorithm, and GCRA
// with the local deny cache, each a limiter of its own.
func typecacheRateContenders() []rateContender {
	var contenders []rateContender
	add := func(name string, opts ratelimit.Options) {
		contenders = append(contenders, rateContender{name,
			func(tb testing.TB, srv *benchServer, limit int, period time.Duration) allowFunc {
				o := opts
				o.Limit, o.Period, o.Prefix = limit, period, shortName()
				limiter, err := ratelimit.New(srv.typecacheClient(tb, true), o)
				if err != nil {
					tb.Fatalf("ratelimit.New: %v", err)
				}
				return func(ctx context.Context, key string) (bool, bool, error) {
					res, err := limiter.Allow(ctx, key)
					return res.Allowed, res.Source == ratelimit.FromLocalDenyCache, err
				}
			}})
	}
	for _, algorithm := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter, ratelimit.FixedWindow} {
		add("typecache-"+algorithm.String(), ratelimit.Options{Algorithm: algorithm})
	}
	add("typecache-gcra-localdeny", ratelimit.Options{LocalDenyCache: true})
	return contenders
}

// BenchmarkRateLimit makes decisions from parallelism×GOMAXPROCS goroutines, on one hot
// key and spread over 10k keys. It reports decisions/s, the share of
// decisions that admitted the request, the share that the local deny cache
// answered without a round trip, and the CPU time per decision of this
// process (client-cpu-µs/op) and of redis-server (redis-cpu-µs/op): on a
// machine shared with other work these vary much less than the wall clock.
func BenchmarkRateLimit(b *testing.B) {
	for _, c := range rateContenders {
		for _, keyCount := range []int{1, 10_000} {
			b.Run(c.name+"/"+keysName(keyCount), func(b *testing.B) {
				srv := server(b)
				allow := c.open(b, srv, benchLimit, benchPeriod)
				prefix := shortName() + "."
				keys := make([]string, keyCount)
				for i := range keys {
					keys[i] = prefix + strconv.Itoa(i)
				}
				var next, admitted, local atomic.Int64
				b.ReportAllocs()
				b.SetParallelism(parallelism)
				client, redis := processCPU(), srv.redisCPU(b)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						ok, denied, err := allow(ctx, keys[next.Add(1)%int64(keyCount)])
						if err != nil {
							b.Errorf("%s: Allow: %v", c.name, err)
							return
						}
						if ok {
							admitted.Add(1)
						}
						if denied {
							local.Add(1)
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(processCPU()-client)/float64(b.N)/1e3, "client-cpu-µs/op")
				b.ReportMetric(float64(srv.redisCPU(b)-redis)/float64(b.N)/1e3, "redis-cpu-µs/op")
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
				b.ReportMetric(100*float64(admitted.Load())/float64(b.N), "allowed-%")
				b.ReportMetric(100*float64(local.Load())/float64(b.N), "local-deny-%")
			})
		}
	}
}

// processCPU returns the CPU time this process has used.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// redisCPU returns the CPU time the server has used (INFO cpu).
func (s *benchServer) redisCPU(tb testing.TB) time.Duration {
	raw := s.srv.Raw(tb)
	info, err := raw.Do(context.Background(), raw.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		tb.Fatalf("INFO cpu: %v", err)
	}
	var total time.Duration
	for line := range strings.Lines(info) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		if name == "used_cpu_sys" || name == "used_cpu_user" {
			seconds, err := strconv.ParseFloat(value, 64)
			if err != nil {
				tb.Fatalf("INFO cpu: %q: %v", line, err)
			}
			total += time.Duration(seconds * float64(time.Second))
		}
	}
	return total
}

var shortNames atomic.Int64

// shortName returns a name unique to this process and call, and short: the
// rate-limit keys are built from it, and long keys would cost every
// contender more bytes per round trip than a real key (an address, a user
// id) does.
func shortName() string {
	return "b" + strconv.FormatInt(int64(os.Getpid()), 36) + "." + strconv.FormatInt(shortNames.Add(1), 36)
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
			key := shortName() + ".client"
			for i := range limit + 1 {
				ok, _, err := allow(context.Background(), key)
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
