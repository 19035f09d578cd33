package typecache_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestUnreachableFailsFast: once the server is stopped, a read that
// rueidis would retry until the deadline fails at once.
func TestUnreachableFailsFast(t *testing.T) {
	srv := redistest.NewStandalone(t)
	c := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Redis().Do(ctx, c.Redis().B().Ping().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	srv.Nodes()[0].Stop()
	redistest.Eventually(t, 5*time.Second, func() error { // the connection notices
		if err := c.Redis().Do(ctx, c.Redis().B().Get().Key("k").Build()).Error(); !typecache.Unreachable(err) {
			return fmt.Errorf("GET: %v, want an Unreachable error", err)
		}
		return nil
	})
	start := time.Now()
	var err error
	for range 5 {
		err = c.Redis().Do(ctx, c.Redis().B().Get().Key("k").Build()).Error()
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("5 GETs against a stopped server took %v (last error %v), want well under the 5 s deadline", took, err)
	}
	if !typecache.Unreachable(err) {
		t.Fatalf("err = %v, want one Unreachable reports", err)
	}
}

func TestUnreachable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.DeadlineExceeded, false},
		{&net.OpError{Op: "dial", Err: errors.New("connect: connection refused")}, true},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, false},
		{&net.DNSError{Err: "no such host", Name: "redis.invalid"}, true},
	} {
		if got := typecache.Unreachable(tc.err); got != tc.want {
			t.Errorf("Unreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
