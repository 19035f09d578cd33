package cache

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// TestBreaker drives the breaker with an injected clock (the now of each
// call): a burst of failures from one killed connection, which rueidis
// replaces within milliseconds, must not open it; failures that keep coming
// must, and then the cooldown, the single probe and recovery follow.
func TestBreaker(t *testing.T) {
	const (
		threshold = 5
		cooldown  = time.Second
	)
	errDown := errors.New("dial tcp: connection refused")
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	ms := func(n int) int64 { return int64(n) * int64(time.Millisecond) }
	start := time.Now().UnixNano()
	bg := context.Background()

	type step struct {
		at      int   // milliseconds after start
		err     error // the outcome recorded when allowed; nil is a success
		allowed bool  // expected answer of allow at this time, asked before recording
		// recordAt, when not 0, is when the outcome is recorded (a call
		// that took time); else at.
		recordAt int
	}
	tests := []struct {
		name      string
		steps     []step
		wantOpens int
	}{
		{
			name: "one killed connection: 32 calls in flight fail within 3 ms, then successes",
			steps: func() []step {
				var s []step
				for i := range 32 {
					s = append(s, step{at: i / 10, err: errDown, allowed: true})
				}
				return append(s, step{at: 20, allowed: true}, step{at: 30, allowed: true})
			}(),
		},
		{
			name: "Redis down: failures keep coming; open after the span, one probe per cooldown",
			steps: []step{
				{at: 0, err: errDown, allowed: true},
				{at: 1, err: errDown, allowed: true},
				{at: 2, err: errDown, allowed: true},
				{at: 3, err: errDown, allowed: true},
				{at: 4, err: errDown, allowed: true},  // threshold reached, but within the span
				{at: 50, err: errDown, allowed: true}, // still within the span
				{at: 100, err: errDown, allowed: true},
				{at: 101, allowed: false},               // open: refused
				{at: 1099, allowed: false},              // still in the cooldown
				{at: 1100, err: errDown, allowed: true}, // the probe; it fails
				{at: 1101, allowed: false},              // open for another cooldown
				{at: 2100, allowed: true},               // next probe: Redis is back
				{at: 2101, allowed: true},               // closed
				{at: 2102, err: errDown, allowed: true}, // a new streak starts from zero
				{at: 2103, err: errDown, allowed: true},
			},
			wantOpens: 1,
		},
		{
			name: "a refused connection opens it at once; a failed probe's cooldown runs from its end",
			steps: []step{
				{at: 0, err: refused, allowed: true},
				{at: 1, allowed: false},
				{at: 1000, err: nil, allowed: true}, // the probe…
				{at: 1001, allowed: true},           // …succeeded
				{at: 1002, err: refused, allowed: true},
				{at: 2002, err: context.DeadlineExceeded, allowed: true, recordAt: 2502}, // a probe that waited 500 ms
				{at: 3100, allowed: false},                                               // not 1 s after the probe began…
				{at: 3503, allowed: true},                                                // …but 1 s after it failed
			},
			wantOpens: 2,
		},
		{
			name: "a slow dead Redis: five timeouts a second apart open it",
			steps: []step{
				{at: 0, err: context.DeadlineExceeded, allowed: true},
				{at: 1000, err: context.DeadlineExceeded, allowed: true},
				{at: 2000, err: context.DeadlineExceeded, allowed: true},
				{at: 3000, err: context.DeadlineExceeded, allowed: true},
				{at: 4000, err: context.DeadlineExceeded, allowed: true},
				{at: 4001, allowed: false},
			},
			wantOpens: 1,
		},
		{
			name: "a success in between restarts the count",
			steps: []step{
				{at: 0, err: errDown, allowed: true},
				{at: 100, err: errDown, allowed: true},
				{at: 200, err: errDown, allowed: true},
				{at: 300, err: errDown, allowed: true},
				{at: 350, allowed: true},
				{at: 400, err: errDown, allowed: true},
				{at: 500, err: errDown, allowed: true},
				{at: 600, err: errDown, allowed: true},
				{at: 700, err: errDown, allowed: true},
				{at: 800, allowed: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opens := 0
			b := newBreaker(threshold, int64(cooldown), func() { opens++ })
			for i, s := range tt.steps {
				now := start + ms(s.at)
				if got := b.allow(now); got != s.allowed {
					t.Fatalf("step %d (at %d ms): allow = %v, want %v", i, s.at, got, s.allowed)
				}
				if s.allowed {
					if s.recordAt != 0 {
						now = start + ms(s.recordAt)
					}
					b.record(bg, s.err, now)
				}
			}
			if opens != tt.wantOpens {
				t.Fatalf("opened %d times, want %d", opens, tt.wantOpens)
			}
		})
	}

	t.Run("a threshold of 1 opens on the first failure", func(t *testing.T) {
		b := newBreaker(1, int64(cooldown), func() {})
		b.record(bg, errDown, start)
		if b.allow(start + ms(1)) {
			t.Fatal("allowed after a failure with threshold 1")
		}
	})
	t.Run("the caller's own deadline does not count", func(t *testing.T) {
		b := newBreaker(1, int64(cooldown), func() { t.Fatal("opened") })
		ctx, cancel := context.WithCancel(bg)
		cancel()
		for i := range 10 {
			b.record(ctx, context.Canceled, start+ms(100*i))
		}
	})
}
