package cache

import "sync"

// A flight is one resolution of a key shared by the callers that asked for
// it at the same time in this process: a read, and the load after a miss.
type flight[T any] struct {
	done chan struct{} // closed when the fields below are set
	outcome[T]
}

// outcome is what a flight hands to every caller that joined it.
type outcome[T any] struct {
	item     *item[T] // a value or an absence; nil with err
	hit      bool     // read from Redis, not loaded
	retry    bool     // the leader gave up before knowing: join again
	err      error
	panicked bool
	panicVal any
}

// flightGroup deduplicates the flights of keys, like singleflight, with two
// additions the Cache needs: a caller can lead the flights of many keys
// (FetchMany), and a key's flight can be forgotten, so that callers that
// come later do not join a load that began before the key changed (an own
// write, an invalidation, or a value of the key this process served from
// Redis, by Get, GetMany or another flight: this process may already have
// served the newer value, and the load may have read the source before it).
type flightGroup[T any] struct {
	mu      sync.Mutex
	flights map[string]*flight[T]
}

// join returns key's flight, and whether the caller leads it: the leader
// resolves the key and calls land.
func (g *flightGroup[T]) join(key string) (f *flight[T], leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.flights[key]; f != nil {
		return f, false
	}
	if g.flights == nil {
		g.flights = make(map[string]*flight[T])
	}
	f = &flight[T]{done: make(chan struct{})}
	g.flights[key] = f
	return f, true
}

// land ends key's flight f with out. A hit (a value this process serves
// from Redis) also makes later joins of key start a new flight when f was
// no longer key's (see forget): the flight that took its place may have
// read Redis before the write of f's value, and its callers be served an
// older value than f's (monotonic reads). A tracked read's reply comes
// after the invalidation of that write, which forgot it already; an
// untracked one gets no invalidation.
func (g *flightGroup[T]) land(key string, f *flight[T], out outcome[T]) {
	g.mu.Lock()
	if g.flights[key] == f || out.hit {
		delete(g.flights, key)
	}
	g.mu.Unlock()
	f.outcome = out
	close(f.done)
}

// forget makes later joins of key start a new flight.
func (g *flightGroup[T]) forget(key string) {
	g.mu.Lock()
	delete(g.flights, key)
	g.mu.Unlock()
}

// forgetAll is forget for every key.
func (g *flightGroup[T]) forgetAll() {
	g.mu.Lock()
	clear(g.flights)
	g.mu.Unlock()
}
