package cache

import (
	"testing"
	"time"
)

// TestCoarseClock checks the clock's two states: an idle clock stops
// ticking (reads then take the precise time), a burst of reads starts it
// again, and in both states a read is never ahead of time.Now. The waits
// are bounded by a deadline, never by a guess of how long a state takes.
func TestCoarseClock(t *testing.T) {
	c := newCoarseClock()
	c.acquire()
	defer c.release()
	checkRead := func(t *testing.T) {
		t.Helper()
		before := time.Now().UnixNano()
		got := c.read()
		after := time.Now().UnixNano()
		if got > after {
			t.Fatalf("read %d, ahead of time.Now %d", got, after)
		}
		if before-got > int64(time.Second) {
			t.Fatalf("read %v behind time.Now", time.Duration(before-got))
		}
	}
	waitFor := func(t *testing.T, what string, done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !done(); {
			if time.Now().After(deadline) {
				t.Fatalf("the clock did not %s within 10 s", what)
			}
		}
	}
	for cycle := range 3 {
		waitFor(t, "sleep while nobody read it", func() bool {
			time.Sleep(time.Millisecond)
			return c.asleep()
		})
		checkRead(t)
		before := time.Now().UnixNano()
		if got := c.read(); got < before {
			t.Fatalf("cycle %d: a sleeping clock read %v behind time.Now: not the precise time", cycle, time.Duration(before-got))
		}
		waitFor(t, "wake during a burst of reads", func() bool {
			for range 10 * busyReads {
				c.read()
			}
			return !c.asleep()
		})
		checkRead(t)
	}
}

// TestCoarseClockRelease checks that the last release stops the clock in
// either state (goleak in TestMain sees a goroutine left behind) and leaves
// it asleep, and that the next acquire starts it ticking.
func TestCoarseClockRelease(t *testing.T) {
	c := newCoarseClock()
	c.acquire()
	c.release() // ticking
	if !c.asleep() {
		t.Fatal("a released clock keeps its last tick: reads would take it")
	}
	c.acquire()
	if c.asleep() {
		t.Fatal("a clock just acquired sleeps")
	}
	for deadline := time.Now().Add(10 * time.Second); !c.asleep(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the clock did not sleep within 10 s")
		}
	}
	c.release() // sleeping
}
