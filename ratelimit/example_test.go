package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/ratelimit"
)

// connect returns a client of the Redis at localhost:6379; the examples that
// use it compile but are not run by go test.
func connect() *typecache.Client {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	return client
}

// A login endpoint: 5 attempts per account per 15 minutes, exact, and no
// attempts at all while Redis is down.
func ExampleNew() {
	client := connect()
	defer client.Close()
	logins, err := ratelimit.New(client, ratelimit.Options{
		Algorithm:   ratelimit.SlidingWindowLog, // zero value: GCRA
		Limit:       5,
		Period:      15 * time.Minute,
		Prefix:      "login",              // one prefix per limit
		FailureMode: ratelimit.FailClosed, // zero value: FailOpen
	})
	if err != nil {
		// an invalid option, named:
		// "ratelimit: invalid options: Options.Limit must be > 0, got 0"
		log.Fatal(err)
	}
	// AllowN(ctx, key, n) for a request of cost n
	res, err := logins.Allow(context.Background(), "alice@example.com")
	if err != nil {
		log.Fatal(err) // only bad input or a cancelled ctx: Redis failures follow FailureMode
	}
	if !res.Allowed {
		fmt.Printf("too many attempts, try again in %s\n", res.RetryAfter.Round(time.Second))
	}
}

// A batch import costs one unit per row; GCRA lets a client send up to 1,000
// rows at once and 100 per second on average.
func ExampleLimiter_AllowN() {
	client := connect()
	defer client.Close()
	rows, err := ratelimit.New(client, ratelimit.Options{
		Limit: 100, Period: time.Second, Burst: 1000, Prefix: "import",
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := rows.AllowN(context.Background(), "tenant-7", 250)
	switch {
	case errors.Is(err, ratelimit.ErrCostExceedsLimit):
		fmt.Println("batch larger than the burst: split it")
	case err != nil:
		log.Fatal(err)
	case !res.Allowed:
		fmt.Printf("retry in %s\n", res.RetryAfter)
	default:
		fmt.Printf("imported; %d rows left in the burst\n", res.Remaining)
	}
}

// Limit an API by client IP behind load balancers in 10.0.0.0/8 that append
// to X-Forwarded-For, with a heavier cost for exports; health checks are not
// counted.
func ExampleMiddleware() {
	client := connect()
	defer client.Close()
	limiter, err := ratelimit.New(client, ratelimit.Options{
		Algorithm: ratelimit.SlidingWindowCounter, Limit: 100, Period: 10 * time.Second, Prefix: "api",
	})
	if err != nil {
		log.Fatal(err)
	}
	limit, err := ratelimit.Middleware(limiter, ratelimit.MiddlewareOptions{
		ClientIP: ratelimit.ClientIPSource{
			Header:         "X-Forwarded-For",
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		},
		PolicyName: "api",
		Cost: func(r *http.Request) int {
			switch r.URL.Path {
			case "/healthz":
				return 0
			case "/export":
				return 10
			}
			return 1
		},
	})
	if err != nil {
		log.Fatal(err) // "ratelimit: invalid options: MiddlewareOptions.…"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	log.Fatal(http.ListenAndServe(":8080", limit(mux)))
}

func ExampleClientIP() {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.7:41000" // the load balancer
	// the client forged the first entry; the load balancer appended the second
	r.Header.Set("X-Forwarded-For", "1.2.3.4, 203.0.113.9")
	behindProxies := ratelimit.ClientIPSource{
		Header:         "X-Forwarded-For",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	}
	fmt.Println(ratelimit.ClientIP(r, behindProxies))
	fmt.Println(ratelimit.ClientIP(r, ratelimit.ClientIPSource{})) // the zero value: no header is read
	// Output:
	// 203.0.113.9
	// 10.0.0.7
}

// countingObserver counts decisions by outcome; a metrics adapter does the
// same with its counters.
type countingObserver struct {
	ratelimit.NoopObserver // the methods not written here do nothing
	allowed, denied        atomic.Int64
}

func (o *countingObserver) OnAllowed(key string, n int) { o.allowed.Add(1) }
func (o *countingObserver) OnDenied(key string, n int)  { o.denied.Add(1) }

// Count decisions with an Observer; embedding NoopObserver keeps it
// compiling when methods are added.
func ExampleObserver() {
	client := connect()
	defer client.Close()
	obs := &countingObserver{}
	limiter, err := ratelimit.New(client, ratelimit.Options{Limit: 2, Period: time.Minute, Prefix: "observed", Observer: obs})
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		if _, err := limiter.Allow(context.Background(), "alice"); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(obs.allowed.Load(), "allowed,", obs.denied.Load(), "denied")
}
