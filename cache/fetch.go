package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
)

// The engine of Fetch and FetchMany: every key the local tier did not have
// goes through the same steps, whether it came alone or with others.
//
//  1. fetch: the key joins its flight in this process, or leads it.
//  2. lead: the leader reads all the keys it leads in one round trip per
//     node; a read that finds a key missing takes its load lease (read.go).
//     Hits land at once; the rest go to one resolve, detached from every
//     caller, so that a caller giving up does not cancel a load others wait
//     for.
//  3. resolve: a state machine per key, all keys moving together (see
//     resolve); loads end in a store under the lease (lease.go).
//  4. Each caller waits for its flights until its own ctx ends.

// keyLoader is the loader of a fetch: Fetch's Loader, for one key, or
// FetchMany's BatchLoader.
type keyLoader[T any] struct {
	one  Loader[T]
	many BatchLoader[T]
}

// load loads the keys of hs (a single one with a Loader) into their
// results. A loader's ErrNotFound (or a key missing from LoadMany's map) is
// an absence; err is the loader's, ErrNotFound included.
func (l keyLoader[T]) load(ctx context.Context, hs []held[T]) error {
	if l.one != nil {
		v, err := l.one.Load(ctx, hs[0].key)
		hs[0].result = loaded[T]{value: v, absent: errors.Is(err, ErrNotFound)}
		return err
	}
	keys := make([]string, len(hs))
	for i := range hs {
		keys[i] = hs[i].key
	}
	values, err := l.many.LoadMany(ctx, keys)
	for i, key := range keys {
		v, ok := values[key]
		hs[i].result = loaded[T]{value: v, absent: !ok}
	}
	return err
}

// failure is the error a failed load of hs's keys hands to their callers.
func (l keyLoader[T]) failure(hs []held[T], err error) error {
	if l.one != nil {
		return keyErr("load", hs[0].key, err)
	}
	return fmt.Errorf("cache: load %d keys: %w", len(hs), err)
}

// pendingKey is one key of a fetch on its way: its flight, its read's call
// (mode and lease token), and what the last read found.
type pendingKey[T any] struct {
	call   readCall
	flight *flight[T]
	res    readResult[T]
	// watched says that res comes from a read made after the key was
	// watched (see resolve): while it says busy, the key may wait.
	watched bool
}

// held returns p's key with lease l.
func (p pendingKey[T]) held(l lease) held[T] {
	return held[T]{key: p.call.key, redisKeys: p.call.redisKeys, lease: l}
}

// fetch answers keys (checked, each once, not in the local tier) for Fetch
// and FetchMany: vals[i] and errs[i] are keys[i]'s. It returns the cause of
// ctx's end if the caller gave up first; keys not answered by then get it
// in errs.
func (c *Cache[T]) fetch(ctx context.Context, keys []string, loader keyLoader[T], now int64, vals []T, errs []error) error {
	todo := make([]int, len(keys))
	for i := range todo {
		todo[i] = i
	}
	flights := make([]*flight[T], len(keys))
	giveUp := func(unanswered []int) error {
		cause := context.Cause(ctx)
		for _, i := range unanswered {
			errs[i] = cause
		}
		return cause
	}
	for len(todo) > 0 {
		var led []pendingKey[T]
		for _, i := range todo {
			f, leader := c.flights.join(keys[i])
			flights[i] = f
			if leader {
				call := readCall{key: keys[i], mode: readOrLease, token: newToken(), redisKeys: c.keysOf(keys[i])}
				led = append(led, pendingKey[T]{call: call, flight: f})
			}
		}
		if len(led) > 0 {
			c.lead(ctx, led, loader, now)
		}
		retry := todo[:0]
		for n, i := range todo {
			select {
			case <-flights[i].done:
			case <-ctx.Done():
				return giveUp(todo[n:])
			}
			if out := flights[i].outcome; out.retry {
				retry = append(retry, i) // its leader gave up before its read was answered
			} else {
				vals[i], errs[i] = c.deliverOutcome(keys[i], out, now, loader)
			}
		}
		todo = retry
		if len(todo) > 0 && ctx.Err() != nil { // it may be this caller that gave up
			return giveUp(todo)
		}
	}
	return nil
}

// lead reads the keys of the flights ps leads in the caller's goroutine,
// under the caller's ctx (half its time, so that a stalled Redis leaves the
// loader the other half). Hits land here; the other keys go to one resolve
// that runs detached. A key whose read ctx ended lands with retry: its
// callers join again (and the lease its read may have taken is ended).
func (c *Cache[T]) lead(ctx context.Context, ps []pendingKey[T], loader keyLoader[T], now int64) {
	var oneCall [1]readCall
	var oneResult [1]readResult[T]
	calls, results := oneCall[:], oneResult[:]
	if len(ps) > 1 {
		calls, results = make([]readCall, len(ps)), make([]readResult[T], len(ps))
	}
	for i := range ps {
		calls[i] = ps[i].call
	}
	c.read(ctx, readRequest{calls: calls, now: now, beforeLoad: true}, results)
	rest := ps[:0]
	var abandoned []held[T]
	for i, p := range ps {
		p.res = results[i]
		switch {
		case p.res.state == stateHit:
			c.flights.land(p.call.key, p.flight, outcome[T]{item: p.res.item, hit: true})
		case p.res.state == stateFailed && ctx.Err() != nil: // the caller gave up, not Redis
			c.flights.land(p.call.key, p.flight, outcome[T]{retry: true})
			if p.res.sent {
				abandoned = append(abandoned, p.held(lease{token: p.call.token}))
			}
		default:
			rest = append(rest, p)
		}
	}
	if len(rest)+len(abandoned) == 0 {
		return
	}
	if !c.refreshes.enter(&c.background) {
		for _, p := range rest {
			c.flights.land(p.call.key, p.flight, outcome[T]{err: ErrClosed})
		}
		return
	}
	if ctx.Done() == nil {
		// The caller cannot give up: it waits for these keys either way, so
		// it loads them itself, sparing a goroutine and two wake-ups.
		c.resolveDetached(ctx, rest, abandoned, loader)
		return
	}
	go c.resolveDetached(ctx, rest, abandoned, loader)
}

// resolveDetached ends the leases of abandoned and resolves ps under a
// load's context: ctx's values, not its cancellation (see Options.LoadTimeout).
func (c *Cache[T]) resolveDetached(ctx context.Context, ps []pendingKey[T], abandoned []held[T], loader keyLoader[T]) {
	defer c.background.Done()
	lctx := c.loads.detach(ctx, wallClock.read())
	c.finishLeases(lctx, abandoned)
	c.resolve(lctx, ps, loader)
}

// resolve lands the flights of ps, whose first read found no usable value.
// Each key moves by what its last read found:
//
//   - leased: loaded under its lease, and stored (load);
//   - failed: loaded without lease and without storing (fail open: storing
//     would wait on the failing Redis too); a lease the read may have taken
//     before its reply was lost is ended by token once the load landed.
//     Not when the Client closed: that fails the key with ErrClosed;
//   - undecodable bytes: read again, leasing although a value exists;
//   - busy (another caller loads it): watched and read again, tracked; while
//     still busy it waits. All waiting keys wait on one wake-up, the first
//     invalidation of any of them or the end of the shortest lease (its
//     holder may have died), and are read again together: one round trip
//     per node, whatever their number.
//
// The keys loadable in one round go to one loader call; loads run beside
// the waits, at most Options.MaxConcurrentLoads at a time. ctx is the
// load's, detached from the callers.
func (c *Cache[T]) resolve(ctx context.Context, ps []pendingKey[T], loader keyLoader[T]) {
	var loads *errgroup.Group // made for the first load that has company
	var wake *wakeup
	defer func() {
		c.waiters.unwatch(wake)
		if loads != nil {
			loads.Wait()
		}
	}()
	for len(ps) > 0 {
		// The keys to load take ps's place, as most keys do; the keys to
		// read again go to a slice of their own, which this round's loads,
		// running beside the next, do not share.
		load := ps[:0]
		var next []pendingKey[T]
		waiting, wait := 0, c.o.StampedeLease
		for _, p := range ps {
			switch p.res.state {
			case stateHit:
				c.flights.land(p.call.key, p.flight, outcome[T]{item: p.res.item, hit: true})
			case stateLeased:
				load = append(load, p)
			case stateFailed:
				switch {
				case errors.Is(p.res.err, ErrClosed): // a closed Client: no fail-open
					c.flights.land(p.call.key, p.flight, outcome[T]{err: keyErr("fetch", p.call.key, p.res.err)})
				case ctx.Err() != nil:
					c.flights.land(p.call.key, p.flight, outcome[T]{err: fmt.Errorf("cache: load %q: waiting for another caller's load: %w", p.call.key, p.res.err)})
				default:
					load = append(load, p)
				}
			case stateMiss: // undecodable bytes: load over them
				p.call.mode, p.watched = leaseAlways, false
				next = append(next, p)
			case stateBusy:
				if c.o.DisableStampedeLock {
					load = append(load, p)
					continue
				}
				if p.watched {
					waiting, wait = waiting+1, min(wait, p.res.wait)
				} else {
					c.stats.lockWaits.Add(1)
					if c.onLeaseBusy != nil {
						c.onLeaseBusy(p.call.key)
					}
				}
				p.call.mode = readOrLease
				next = append(next, p)
			}
		}
		switch {
		case len(load) == 0:
		case len(next) == 0 && loads == nil: // nothing else to do
			c.loadKeys(ctx, load, loader)
		default:
			if loads == nil {
				loads = new(errgroup.Group)
				loads.SetLimit(c.o.MaxConcurrentLoads)
			}
			loads.Go(func() error { c.loadKeys(ctx, load, loader); return nil })
		}
		if waiting > 0 && waiting == len(next) { // nothing to read before a change
			if err := c.waitForChange(ctx, wake, wait); err != nil {
				for _, p := range next {
					c.flights.land(p.call.key, p.flight, outcome[T]{err: fmt.Errorf("cache: load %q: waiting for another caller's load: %w", p.call.key, err)})
				}
				return
			}
		}
		c.waiters.unwatch(wake)
		wake = nil
		if len(next) == 0 {
			return
		}
		// Watch the busy keys before the read that may find them busy again,
		// so that a change between that read and the wait is not missed.
		var busy []string
		calls, results := make([]readCall, len(next)), make([]readResult[T], len(next))
		for i, p := range next {
			calls[i] = p.call
			if p.res.state == stateBusy {
				busy = append(busy, p.call.key)
			}
		}
		if len(busy) > 0 {
			wake = c.waiters.watch(busy)
		}
		c.read(ctx, readRequest{calls: calls, now: c.now(), tracked: len(busy) > 0}, results)
		for i := range next {
			next[i].watched = next[i].res.state == stateBusy
			next[i].res = results[i]
		}
		ps = next
	}
}

// waitForChange waits until wake fires, wait passes or ctx ends (its
// cause). Without tracking no invalidation comes: it waits untrackedPoll at
// most.
func (c *Cache[T]) waitForChange(ctx context.Context, wake *wakeup, wait time.Duration) error {
	if !c.conn.Tracks(c.space.Prefix()) {
		wait = min(wait, untrackedPoll)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-wake.ch:
	case <-timer.C:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return nil
}

// untrackedPoll is how often a waiter reads again on a client without
// client-side caching, which sends no invalidations.
const untrackedPoll = 5 * time.Millisecond

// loadKeys loads ps in one loader call, under the leases their reads took,
// and lands their flights. Then it ends the leases that reads which failed
// after they were sent may have taken.
func (c *Cache[T]) loadKeys(ctx context.Context, ps []pendingKey[T], loader keyLoader[T]) {
	hs := make([]held[T], len(ps))
	var lost []held[T]
	for i, p := range ps {
		hs[i] = p.held(lease{})
		switch {
		case p.res.state == stateLeased:
			hs[i].lease = lease{token: p.call.token, gen: p.res.gen}
		case p.res.state == stateFailed && p.res.sent:
			lost = append(lost, p.held(lease{token: p.call.token}))
		}
	}
	c.load(ctx, hs, loader)
	for i := range hs {
		c.flights.land(ps[i].call.key, ps[i].flight, hs[i].out)
	}
	c.finishLeases(ctx, lost)
}

// load runs loader for the keys of hs, ends their leases (those with a
// token): it stores each result, or releases the lease when the loader
// failed; and sets each key's outcome. A panic of the loader is caught and
// handed to every caller of the flights, which re-raise it; the leases are
// released first.
func (c *Cache[T]) load(ctx context.Context, hs []held[T], loader keyLoader[T]) {
	keeper := c.keepLeases(ctx, hs)
	defer func() {
		keeper.stop()
		if p := recover(); p != nil {
			c.finishLeases(ctx, hs)
			for i := range hs {
				hs[i].out = outcome[T]{panicked: true, panicVal: p}
			}
		}
	}()
	start := time.Now()
	err := loader.load(ctx, hs)
	took := time.Since(start)
	c.loaded(hs, took, err)
	if err != nil && !errors.Is(err, ErrNotFound) {
		c.stats.loadErrors.Add(1)
		c.finishLeases(ctx, hs)
		err = loader.failure(hs, err)
		for i := range hs {
			hs[i].out = outcome[T]{err: err}
		}
		return
	}
	for i := range hs {
		r := &hs[i].result
		r.took, hs[i].loaded = took, true
		hs[i].out = outcome[T]{item: &item[T]{key: hs[i].key, value: r.value, absent: r.absent}}
	}
	c.finishLeases(ctx, hs)
}

// deliverOutcome answers one caller of a flight.
func (c *Cache[T]) deliverOutcome(key string, out outcome[T], now int64, loader keyLoader[T]) (T, error) {
	if out.panicked {
		panic(out.panicVal)
	}
	var zero T
	if out.err != nil {
		return zero, out.err
	}
	if out.hit {
		c.remoteHit()
		return c.serve(key, out.item, now, loader)
	}
	c.miss(key)
	return c.deliver(out.item)
}
