package cache

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is the wall clock of the caches' reads. Reading time.Now
// costs about 40–60 ns on common virtual machines, as much as the rest of
// a local hit, so while reads are frequent one goroutine, shared by every
// open Cache, stores the time every millisecond and reads take it with one
// atomic load. Expiries are then checked with up to a millisecond of lag.
//
// A tick is not free either: waking a goroutine every millisecond cost a
// process about 35 ms of CPU a second on the machine of the benchmarks,
// idle or not. So the clock counts the reads of each tick (in the low bits
// of the time it stores, up to busyReads), and once quietTicks ticks in a
// row saw fewer than busyReads reads, it stops ticking: reads then take
// time.Now, and count themselves per millisecond, and the busyReads-th
// read of one millisecond starts the ticks again. An idle process spends
// nothing on the clock, a busy one one atomic load per read.
type coarseClock struct {
	// now is the unix time in nanoseconds of the last tick, its low
	// readBits counting the reads since (saturating at busyReads); 0 while
	// the clock sleeps.
	now atomic.Int64
	// slowReads counts the reads of the current millisecond while the
	// clock sleeps: the millisecond's start in unix nanoseconds, its low
	// readBits the count (saturating at busyReads).
	slowReads atomic.Int64
	wake      chan struct{} // a sleeping clock's alarm, buffered (1)

	mu    sync.Mutex
	users int
	stop  chan struct{}
	done  chan struct{}
}

const (
	coarseClockTick = time.Millisecond
	readBits        = 8
	readMask        = 1<<readBits - 1
	busyReads       = readMask // reads in a tick that keep the clock ticking
	quietTicks      = 8        // quiet ticks in a row before the clock sleeps
)

// wallClock is the clock of every Cache.
var wallClock = newCoarseClock()

func newCoarseClock() *coarseClock { return &coarseClock{wake: make(chan struct{}, 1)} }

// read returns the time of the last tick, or the precise time while the
// clock sleeps. Its common case, a tick that saw busyReads reads, inlines.
func (c *coarseClock) read() int64 {
	if v := c.now.Load(); v&readMask == busyReads {
		return v &^ readMask
	}
	return c.readCounted()
}

// readCounted is read while the tick has seen fewer than busyReads reads
// or the clock sleeps: it counts the read. It loads the clock again rather
// than taking read's value, which would let the compiler inline it into
// read and leave read itself too large to inline.
func (c *coarseClock) readCounted() int64 {
	v := c.now.Load()
	if v == 0 {
		return c.readSleeping()
	}
	if v&readMask != busyReads {
		c.now.CompareAndSwap(v, v+1) // a tick or another read may win: a count, not a total
	}
	return v &^ readMask
}

// readSleeping returns the precise time and counts the read in its
// millisecond, waking the clock at the busyReads-th.
func (c *coarseClock) readSleeping() int64 {
	t := time.Now().UnixNano()
	w := c.slowReads.Load()
	next := t&^readMask | 1
	if start := w &^ readMask; t-start < int64(coarseClockTick) && t >= start {
		if w&readMask == busyReads {
			c.alarm() // the clock has not woken yet
			return t
		}
		next = w + 1
	}
	if c.slowReads.CompareAndSwap(w, next) && next&readMask == busyReads {
		c.alarm()
	}
	return t
}

// alarm wakes the sleeping clock.
func (c *coarseClock) alarm() {
	select {
	case c.wake <- struct{}{}:
	default: // already rung
	}
}

// asleep reports whether the clock sleeps, for tests.
func (c *coarseClock) asleep() bool { return c.now.Load() == 0 }

// acquire starts the ticking goroutine for the first user.
func (c *coarseClock) acquire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users++; c.users > 1 {
		return
	}
	c.now.Store(time.Now().UnixNano() &^ readMask)
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.tick(c.stop, c.done)
}

// release stops the goroutine when the last user is gone, and leaves the
// clock asleep.
func (c *coarseClock) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users--; c.users > 0 {
		return
	}
	close(c.stop)
	<-c.done
	c.now.Store(0) // later reads, of closed caches, take time.Now
}

func (c *coarseClock) tick(stop, done chan struct{}) {
	defer close(done)
	ticker := time.NewTicker(coarseClockTick)
	defer ticker.Stop()
	quiet := 0
	for {
		select {
		case <-stop:
			return
		case t := <-ticker.C:
			stamp := t.UnixNano() &^ readMask
			if c.now.Swap(stamp)&readMask == busyReads {
				quiet = 0
				continue
			}
			if quiet++; quiet < quietTicks {
				continue
			}
			ticker.Stop()
			if !c.sleep(stamp, stop) {
				return
			}
			quiet = 0
			c.now.Store(time.Now().UnixNano() &^ readMask)
			ticker.Reset(coarseClockTick)
		}
	}
}

// sleep stops the clock, unless reads came since the tick stamp, until a
// read rings the alarm; it reports false when stop closed instead.
func (c *coarseClock) sleep(stamp int64, stop chan struct{}) bool {
	select {
	case <-c.wake: // rung during the last sleep, after the clock woke
	default:
	}
	c.slowReads.Store(0)
	if !c.now.CompareAndSwap(stamp, 0) {
		return true // a read came: tick on
	}
	select {
	case <-stop:
		return false
	case <-c.wake:
		return true
	}
}

// now returns the time in unix nanoseconds: wallClock's, or a test's.
func (c *Cache[T]) now() int64 {
	if c.clock != nil {
		return c.clock()
	}
	return wallClock.read()
}
