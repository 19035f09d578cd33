package counter_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/counter"
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

// Failed logins per account, forgotten 15 minutes after the first failure.
func ExampleNew() {
	client := connect()
	defer client.Close()
	failures, err := counter.New(client, "login-failures", counter.Options{
		TTL: 15 * time.Minute, // required: fixed from the first increment
	})
	if err != nil {
		// an invalid option, named:
		// "counter: invalid options: Options.TTL must be at least 1ms ..."
		log.Fatal(err)
	}
	ctx := context.Background()
	n, err := failures.Add(ctx, "alice@example.com", 1) // one round trip
	if err != nil {
		log.Fatal(err) // ErrOverflow past int64, never a wrap
	}
	if n >= 5 {
		fmt.Println("account locked for the rest of the window")
	}
	if err := failures.Reset(ctx, "alice@example.com"); err != nil { // after a good login
		log.Fatal(err)
	}
}

// Reading many counters: one round trip per Redis node.
func ExampleCounter_GetMany() {
	client := connect()
	defer client.Close()
	downloads, err := counter.New(client, "downloads", counter.Options{TTL: 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	counts, err := downloads.GetMany(context.Background(), []string{"v1.0", "v1.1", "v2.0"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(counts) // absent counters are 0
}

// Page views of a busy site: increments summed in the process and sent
// once a second, one round trip per node for all pages.
func ExampleCounter_Buffered() {
	client := connect()
	defer client.Close()
	views, err := counter.New(client, "page-views", counter.Options{TTL: 7 * 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	hot, err := views.Buffered(counter.BufferOptions{
		FlushInterval: time.Second, // a crash loses at most about this much
	})
	if err != nil {
		log.Fatal(err)
	}
	defer hot.Close(context.Background()) // flushes what is left

	if err := hot.Add("/pricing", 1); err != nil { // no round trip
		log.Fatal(err)
	}
	// Redis's value plus this process's unflushed delta; served from the
	// local read cache until the key changes in Redis.
	n, err := hot.Get(context.Background(), "/pricing")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n)
}

// Views per minute over the last hour.
func ExampleNewWindowed() {
	client := connect()
	defer client.Close()
	perMinute, err := counter.NewWindowed(client, "views-per-minute", counter.WindowOptions{
		Window: time.Minute,
		Keep:   60, // each window's key expires once it is 61 minutes old
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := perMinute.Add(ctx, "/pricing", 1); err != nil {
		log.Fatal(err)
	}
	windows, err := perMinute.Last(ctx, "/pricing", 5) // oldest first, one round trip
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range windows {
		fmt.Println(w.Start.Format("15:04"), w.Count)
	}
	lastHour, err := perMinute.Sum(ctx, "/pricing", 60)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(lastHour)
}
