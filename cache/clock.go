package cache

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is the wall clock of local hits. Reading time.Now costs about
// 60 ns on common virtual machines, more than the rest of a local hit, so
// one goroutine, shared by every open Cache, stores the time every
// millisecond and hits read it with one atomic load. Expiries are therefore
// checked with up to a millisecond of lag.
type coarseClock struct {
	now atomic.Int64 // unix nanoseconds

	mu    sync.Mutex
	users int
	stop  chan struct{}
	done  chan struct{}
}

const coarseClockTick = time.Millisecond

var wallClock coarseClock

// read returns the time of the last tick.
func (c *coarseClock) read() int64 { return c.now.Load() }

// acquire starts the ticking goroutine for the first user.
func (c *coarseClock) acquire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users++; c.users > 1 {
		return
	}
	c.now.Store(time.Now().UnixNano())
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.tick(c.stop, c.done)
}

// release stops the goroutine when the last user is gone.
func (c *coarseClock) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users--; c.users > 0 {
		return
	}
	close(c.stop)
	<-c.done
}

func (c *coarseClock) tick(stop, done chan struct{}) {
	defer close(done)
	ticker := time.NewTicker(coarseClockTick)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case t := <-ticker.C:
			c.now.Store(t.UnixNano())
		}
	}
}
