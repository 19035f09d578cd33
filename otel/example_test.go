package otel_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/leaderboard"
	"github.com/typecache/typecache/lock"
	typecacheotel "github.com/typecache/typecache/otel"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// User is the examples' value type.
type User struct{ ID, Name string }

// Each cache, Locker, limiter, session store, counter and leaderboard gets
// an observer of one Metrics; its New names it after the instance (a name,
// or Options.Prefix), so the name is typed once.
func Example() {
	var client *typecache.Client // from typecache.NewClient

	// One Metrics per MeterProvider: here the global one, which the
	// program's exporter set up (examples/webapp uses Prometheus's).
	metrics, err := typecacheotel.NewMetrics(otelglobal.GetMeterProvider())
	if err != nil {
		log.Fatal(err)
	}
	users, err := cache.New[User](client, "user", cache.Options[User]{
		TTL:      time.Hour,
		Observer: metrics.CacheObserver(nil), // typecache.cache.name="user"
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	locks, err := lock.New(client, lock.Options{Prefix: "jobs", Observer: metrics.LockObserver(nil)})
	if err != nil {
		log.Fatal(err)
	}
	defer locks.Close()
	limiter, err := ratelimit.New(client, ratelimit.Options{
		Limit: 100, Period: time.Minute, Prefix: "api",
		Observer: metrics.RateLimitObserver(nil),
	})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := session.New(client, session.Options[User]{
		Prefix:   "web",
		Observer: metrics.SessionObserver(session.LogObserver(slog.Default())), // metrics and an audit log
	})
	if err != nil {
		log.Fatal(err)
	}
	views, err := counter.New(client, "views", counter.Options{TTL: 24 * time.Hour, Observer: metrics.CounterObserver(nil)})
	if err != nil {
		log.Fatal(err)
	}
	scores, err := leaderboard.New(client, "scores", leaderboard.Options{TTL: 30 * 24 * time.Hour, Observer: metrics.LeaderboardObserver(nil)})
	if err != nil {
		log.Fatal(err)
	}
	defer scores.Close()
	_, _, _ = limiter, sessions, views
}

// hotKeys is a cache.KeyObserver that logs the keys of loads, to find the
// keys that miss most.
type hotKeys struct{ cache.NoopObserver }

func (hotKeys) OnMissKey(string) {}
func (hotKeys) OnLoadKey(key string, d time.Duration, err error) {
	slog.Debug("cache load", "key", key, "took", d, "err", err)
}

// The observer of a cache passes every call on to an observer of your own;
// when that one is a cache.KeyObserver, it alone hears the keys, which
// never become metric attributes.
func ExampleMetrics_CacheObserver() {
	var client *typecache.Client       // from typecache.NewClient
	var metrics *typecacheotel.Metrics // from NewMetrics

	users, err := cache.New[User](client, "user", cache.Options[User]{
		TTL:      time.Hour,
		Observer: metrics.CacheObserver(hotKeys{}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
}

// A traced loader runs each load in a span, a child of the span of the
// request that missed.
func ExampleTraceLoader() {
	var users *cache.Cache[User] // from cache.New
	load := cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
		return User{ID: id, Name: "Ada"}, nil // a database query, with ctx's span as its parent
	})

	tracer := otelglobal.Tracer("example.com/users")
	loader := typecacheotel.TraceLoader[User](tracer, "user", load)

	handle := func(ctx context.Context, id string) (User, error) {
		return users.Fetch(ctx, id, loader)
	}
	_ = handle
}

// flushLog is a counter.NamedObserver of your own: it logs flushes with
// the name of their Counter, which it learns as the metrics observer does.
type flushLog struct {
	counter.NoopObserver
	name string
}

func (l flushLog) WithName(name string) counter.Observer { return flushLog{name: name} }

func (l flushLog) OnFlush(keys int, _ time.Duration, err error) {
	fmt.Printf("%s: flushed %d keys, err %v\n", l.name, keys, err)
}

// A Counter's New tells its observer the Counter's name, and the metrics
// observer passes the name on to an observer of yours that asks for it too.
// Here New's call is made by hand, without a Redis server, and the points
// are read back from the SDK.
func ExampleMetrics_CounterObserver() {
	reader := sdkmetric.NewManualReader()
	metrics, err := typecacheotel.NewMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		log.Fatal(err)
	}
	observer := metrics.CounterObserver(flushLog{}) // Options.Observer of counter.New(client, "views", …)

	views := observer.(counter.NamedObserver).WithName("views") // what counter.New does
	views.OnFlush(3, 2*time.Millisecond, nil)                   // a Buffered's flush of 3 keys

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
			for _, p := range sum.DataPoints {
				fmt.Println(m.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Value)
			}
		}
	}
	// Output:
	// views: flushed 3 keys, err <nil>
	// typecache.counter.flushes typecache.counter.flush.result=ok,typecache.counter.name=views 1
	// typecache.counter.flush.keys typecache.counter.flush.result=ok,typecache.counter.name=views 3
}
