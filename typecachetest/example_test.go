package typecachetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/lock"
	"github.com/typecache/typecache/typecachetest"
)

// A test of code that caches through typecache starts a server of its own;
// it is stopped when the test ends. The function below is the test: an
// example has no *testing.T to run it with, so it is not run here
// (examples/typecachetest_example_test.go runs a test like it).
func ExampleNewServer() {
	testGreeting := func(t *testing.T) {
		srv := typecachetest.NewServer(t)
		greetings, err := cache.New[string](srv.Client(t), "greeting", cache.Options[string]{TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer greetings.Close()

		ctx := context.Background()
		if err := greetings.Set(ctx, "en", "Hello"); err != nil {
			t.Fatal(err)
		}
		if got, err := greetings.Get(ctx, "en"); err != nil || got != "Hello" {
			t.Fatalf("Get = %q, %v; want Hello", got, err)
		}
	}
	_ = testGreeting
}

// With Cluster, the server is a three-master Redis cluster: the code under
// test meets slot routing as in a clustered deployment.
func ExampleCluster() {
	testLock := func(t *testing.T) {
		srv := typecachetest.NewServer(t, typecachetest.Cluster())
		locks, err := lock.New(srv.Client(t), lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer locks.Close()

		l, err := locks.Acquire(context.Background(), "report")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(context.Background())
	}
	_ = testLock
}
