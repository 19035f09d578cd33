package otel_test

import (
	"context"
	"log"
	"log/slog"
	"time"

	otelglobal "go.opentelemetry.io/otel"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/lock"
	typecacheotel "github.com/typecache/typecache/otel"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// User is the examples' value type.
type User struct{ ID, Name string }

// Each cache, Locker, limiter and session store gets an observer of one
// Metrics, named as its instance is.
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
		Observer: metrics.CacheObserver("user", nil),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	locks, err := lock.New(client, lock.Options{Prefix: "jobs", Observer: metrics.LockObserver("jobs", nil)})
	if err != nil {
		log.Fatal(err)
	}
	defer locks.Close()
	limiter, err := ratelimit.New(client, ratelimit.Options{
		Limit: 100, Period: time.Minute, Prefix: "api",
		Observer: metrics.RateLimitObserver("api", nil),
	})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := session.New(client, session.Options[User]{
		Prefix:   "web",
		Observer: metrics.SessionObserver("web", session.LogObserver(slog.Default())), // metrics and an audit log
	})
	if err != nil {
		log.Fatal(err)
	}
	_, _ = limiter, sessions
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
		Observer: metrics.CacheObserver("user", hotKeys{}),
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
