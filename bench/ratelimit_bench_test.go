package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
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

// BenchmarkRateLimit makes decisions on one hot key and spread over 10k
// keys, from 1 and from 64 goroutines. Beside the cost of every workload
// (see cost), it reports the share of decisions that admitted the request
// (allowed-%) and the share that the local deny cache answered without a
// round trip (local-deny-%).
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
				benchCallers(b, srv, workload{
					contender: c.name,
					prepare: sameOp(func(ctx context.Context) error {
						ok, denied, err := allow(ctx, keys[next.Add(1)%int64(keyCount)])
						if err != nil {
							return fmt.Errorf("Allow: %w", err)
						}
						if ok {
							admitted.Add(1)
						}
						if denied {
							local.Add(1)
						}
						return nil
					}),
					measure: func(b *testing.B, _ int) func() {
						admitted.Store(0)
						local.Store(0)
						return func() {
							b.ReportMetric(100*float64(admitted.Load())/float64(b.N), "allowed-%")
							b.ReportMetric(100*float64(local.Load())/float64(b.N), "local-deny-%")
						}
					},
				})
			})
		}
	}
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
