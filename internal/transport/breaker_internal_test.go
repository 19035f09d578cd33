package transport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// TestNodeBreakerOpens drives one node's breaker with an injected clock (the
// now of each outcome): a burst of failures from one killed connection,
// which rueidis replaces within milliseconds, must not open it; failures
// that keep coming must, and so must one refused connection at once.
func TestNodeBreakerOpens(t *testing.T) {
	errDown := errors.New("read tcp: connection reset by peer")
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	type outcome struct {
		at       int   // milliseconds
		err      error // nil is a success
		wantOpen bool  // the breaker's state after it
	}
	tests := []struct {
		name      string
		threshold int64
		outcomes  []outcome
	}{
		{
			name:      "one killed connection: 32 calls in flight fail within 3 ms, then a success",
			threshold: 5,
			outcomes: func() []outcome {
				var o []outcome
				for i := range 32 {
					o = append(o, outcome{at: i / 10, err: errDown})
				}
				return append(o, outcome{at: 20})
			}(),
		},
		{
			name:      "failures keep coming: open once they span 100 ms",
			threshold: 5,
			outcomes: []outcome{
				{at: 0, err: errDown}, {at: 1, err: errDown}, {at: 2, err: errDown}, {at: 3, err: errDown},
				{at: 4, err: errDown},  // threshold reached, within the span
				{at: 99, err: errDown}, // still within it
				{at: 100, err: errDown, wantOpen: true},
				{at: 101, err: errDown, wantOpen: true},
				{at: 102, wantOpen: false}, // a call in flight succeeded: closed
			},
		},
		{
			name:      "a success resets the count",
			threshold: 3,
			outcomes: []outcome{
				{at: 0, err: errDown}, {at: 50, err: errDown}, {at: 100},
				{at: 150, err: errDown}, {at: 200, err: errDown},
				{at: 250, err: errDown, wantOpen: true},
			},
		},
		{
			name:      "a stalled node: two calls that waited a second each open it",
			threshold: 5,
			outcomes: []outcome{
				{at: 1000, err: context.DeadlineExceeded},
				{at: 1999, err: context.DeadlineExceeded}, // not yet a second apart
				{at: 2000, err: context.DeadlineExceeded, wantOpen: true},
			},
		},
		{
			name:      "failures far apart are separate streaks",
			threshold: 3,
			outcomes: []outcome{
				{at: 0, err: errDown}, {at: 20_000, err: errDown}, {at: 40_000, err: errDown},
				{at: 40_100, err: errDown}, {at: 40_200, err: errDown, wantOpen: true},
			},
		},
		{
			name:      "a refused connection opens it at once",
			threshold: 5,
			outcomes:  []outcome{{at: 0, err: refused, wantOpen: true}},
		},
		{
			name:      "threshold 1 opens on any failure",
			threshold: 1,
			outcomes:  []outcome{{at: 0, err: errDown, wantOpen: true}},
		},
		{
			name:      "replies are successes: a nil and an error reply close it",
			threshold: 1,
			outcomes: []outcome{
				{at: 0, err: refused, wantOpen: true},
				{at: 1, err: rueidis.Nil},
				{at: 2, err: refused, wantOpen: true},
				{at: 3, err: &rueidis.RedisError{}},
			},
		},
		{
			name:      "a check that got no reply within a second opens it at once",
			threshold: 5,
			outcomes:  []outcome{{at: 0, err: errNodeStalled, wantOpen: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n nodeBreaker
			for i, o := range tt.outcomes {
				wasOpen := n.open.Load()
				opened := n.record(o.err, int64(o.at)*int64(time.Millisecond), tt.threshold)
				if got := n.open.Load(); got != o.wantOpen {
					t.Fatalf("outcome %d (%v at %d ms): open = %v, want %v", i, o.err, o.at, got, o.wantOpen)
				}
				if want := o.wantOpen && !wasOpen; opened != want {
					t.Fatalf("outcome %d: record reported opened = %v, want %v", i, opened, want)
				}
			}
		})
	}
}

// TestRouteOneBreakerPerNode: a master that serves several ranges of
// slots has one breaker for all of them, from the first route on, and keeps
// it when the route changes; slots no master serves share the single one.
func TestRouteOneBreakerPerNode(t *testing.T) {
	b := &Breaker{single: &nodeBreaker{}, nodes: map[string]*nodeBreaker{}}
	b.setRoute([]slotRange{{0, 99, "a:1"}, {100, 199, "b:1"}, {300, 399, "a:1"}})
	route := *b.route.Load()
	if route[0] != route[300] || route[0] == route[100] || route[0].addr != "a:1" {
		t.Fatalf("first route: slots 0 and 300 (a:1) have breakers %p and %p, slot 100 (b:1) %p", route[0], route[300], route[100])
	}
	if route[250] != b.single {
		t.Fatalf("slot 250, served by no master, has breaker %p, not the single one", route[250])
	}
	a, gone := route[0], route[100]
	b.setRoute([]slotRange{{0, 199, "a:1"}, {300, 399, "c:1"}})
	route = *b.route.Load()
	if route[0] != a || route[150] != a {
		t.Fatal("a:1 got a new breaker when its slots changed")
	}
	if route[300] == a {
		t.Fatal("slot 300 moved to c:1 but kept a:1's breaker")
	}
	if !gone.retired.Load() {
		t.Fatal("b:1, no longer listed, was not retired (its probe would run on)")
	}
}
