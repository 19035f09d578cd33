package transport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/keyspace"
)

// breakerMinSpan is how long failures must keep coming, with no success in
// between, before they open a breaker. A killed connection fails every call
// in flight on it at once, and rueidis has a new connection a few
// milliseconds later: that burst must not refuse a node for a whole
// cooldown. A node that is down keeps failing past the span.
const breakerMinSpan = 100 * time.Millisecond

// breakerStallSpan is how long failures with no success in between open a
// breaker whatever their count: a node that has answered nothing for that
// long is stalled (CLIENT PAUSE, DEBUG SLEEP, a saturated server), and a
// sequential caller whose calls each wait a RedisTimeout of a second would
// otherwise wait for several of them.
const breakerStallSpan = time.Second

// checkTimeout bounds a check of a node that a caller's own deadline set
// off (see Record): the packages' default RedisTimeout, and the silence
// after which a node counts as stalled.
const checkTimeout = breakerStallSpan

// errNodeStalled is the failure of a check that got no reply within
// checkTimeout: the node is stalled, as when calls fail for a second.
var errNodeStalled = errors.New("typecache: no reply to a check within a second")

// breakerStreakGap ends a streak of failures: a failure this long after the
// previous one starts a new streak, so that a client that calls rarely is
// not refused for failures minutes apart.
const breakerStreakGap = 10 * time.Second

// A Breaker keeps callers from waiting on a Redis node that is down. A
// Conn has one breaker per node (per master on a cluster, where it knows
// which node serves each slot), shared by every package built on the
// Conn: on a cluster, one dead shard refuses only the keys it serves. It
// is safe for concurrent use by multiple goroutines.
//
// A node's breaker opens after the failures set by [BreakerOptions], after two
// failures a second apart with no success in between (a stalled node), or
// at once on a failure that says the node refuses connections
// ([Unreachable]). A call whose caller's own deadline ran out is not a
// failure: it makes the Conn check the node (see [Breaker.Record]).
// While it is open, Allow refuses the node's keys without a round trip, and
// the Conn probes the node in the background every cooldown, so that no
// caller ever waits on a node known to be down; the first success, the
// probe's or a call's already in flight, closes it. Replies of the server,
// errors included (WRONGTYPE, a nil), are successes: the node is up.
//
// The packages built on the Conn consult it around each round trip: Allow
// before, Record after, or both through [Guard]. A nil *Breaker (breakers
// turned off) allows everything.
type Breaker struct {
	threshold int64
	cooldown  time.Duration
	redis     rueidis.Client
	ping      rueidis.Completed // the probe; pinned, so sent by any number of probes
	epoch     time.Time         // now() counts from it: monotonic

	single *nodeBreaker                   // every key while no route is known
	route  atomic.Pointer[[]*nodeBreaker] // by cluster slot

	mu     sync.Mutex // guards nodes, onOpen, and starting probes against close
	nodes  map[string]*nodeBreaker
	onOpen map[*func()]struct{}
	ctx    context.Context // ends at Close: probes stop
	cancel context.CancelFunc
	probes sync.WaitGroup
}

// BreakerOptions say when a Conn's breakers open and how often an open one
// probes its node: after Failures failures with no success in between, the
// first and the last at least 100 ms apart (1 opens on any failure), or
// after any two failures a second apart; and every Cooldown. A negative
// Failures turns the breakers off. The root package's WithBreaker documents
// them for applications and supplies the defaults: here zero values are
// taken as they are.
type BreakerOptions struct {
	Failures int
	Cooldown time.Duration
}

func newBreaker(redis rueidis.Client, o BreakerOptions) *Breaker {
	if o.Failures < 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Breaker{
		threshold: int64(o.Failures), cooldown: o.Cooldown, redis: redis, epoch: time.Now(),
		ping:   redis.B().Ping().Build().Pin(),
		single: &nodeBreaker{}, nodes: map[string]*nodeBreaker{}, onOpen: map[*func()]struct{}{},
		ctx: ctx, cancel: cancel,
	}
}

// Allow reports whether a call to the node serving key may go to Redis:
// false while that node's breaker is open.
func (b *Breaker) Allow(key string) bool {
	return b == nil || !b.node(key).open.Load()
}

// Record notes the outcome of a call to the node serving key that Allow let
// through; err is nil for a success. ctx is the caller's context: a call
// the caller canceled says nothing about Redis, and neither does one whose
// caller's deadline ran out (a request budget of a millisecond): that is a
// reason to check the node, not a failure. Such a call starts a check in
// the background (one at a time per node): a PING bounded by a second,
// whose outcome counts, so that a stalled node still opens its breaker
// when every caller gives up before Redis would have answered. A deadline
// of the call's own (such as a package's RedisTimeout, on a context
// derived from ctx) is a failure.
func (b *Breaker) Record(ctx context.Context, key string, err error) {
	if b == nil {
		return
	}
	n := b.node(key)
	if !redisAnswered(err) {
		if errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled) {
			return
		}
		// Past the caller's deadline, whatever failed (the reply's wait, a
		// dial cut short) failed for want of the caller's time. The
		// deadline, not ctx.Err: that is set a moment after it passes.
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
			b.check(n)
			return
		}
	}
	b.note(n, err)
}

// note records err, the outcome of a call or a check of n's node.
func (b *Breaker) note(n *nodeBreaker, err error) {
	if n.record(err, b.now(), b.threshold) {
		b.opened(n)
	}
}

// check starts a check of n's node, unless one runs, n is open (its probes
// are at it) or the Conn is closed.
func (b *Breaker) check(n *nodeBreaker) {
	if n.open.Load() || !n.checking.CompareAndSwap(false, true) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		n.checking.Store(false)
		return
	}
	b.probes.Add(1) // under mu, as close's cancel: never after its Wait began
	go func() {
		defer b.probes.Done()
		defer n.checking.Store(false)
		node := b.nodeClient(n)
		if node == nil {
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, checkTimeout)
		err := node.Do(ctx, b.ping).Error()
		cancel()
		switch {
		case b.ctx.Err() != nil: // closed
		case errors.Is(err, context.DeadlineExceeded):
			b.note(n, errNodeStalled)
		default:
			b.note(n, err)
		}
	}()
}

// Guard makes call, one round trip about key, past b's breaker of key's
// node: while it is open, Guard returns refused at once without calling;
// otherwise it returns call's outcome after recording it (Allow, then
// Record). b may be nil (breakers turned off): call is then just made.
//
// A call that failed because the node is Unreachable was not sent, as a
// refused one was not: its error matches what refused matches (the
// package's ErrUnavailable, and typecache.ErrUnavailable) from the first
// such failure, and unwraps to the network error. A failure whose outcome
// is unknown (a deadline that ran out after the command was written) does
// not match: the command may have run.
func Guard[T any](ctx context.Context, b *Breaker, key string, refused error, call func() (T, error)) (T, error) {
	if !b.Allow(key) {
		var zero T
		return zero, refused
	}
	v, err := call()
	b.Record(ctx, key, err)
	return v, Unsent(err, refused)
}

// Unsent returns err, the failure of a call to Redis, matching refused too
// (the error a breaker refusal returns: the package's ErrUnavailable) when
// the node is Unreachable: such a call was not sent, as a refused one was
// not. Other errors, whose outcome is unknown, are returned as they are.
func Unsent(err, refused error) error {
	if Unreachable(err) {
		return notSent{err: err, refused: refused}
	}
	return err
}

// notSent is the cause of a call that failed because the node is
// Unreachable (see Unsent): it reads as the network error, matches refused, and unwraps
// to the network error.
type notSent struct{ err, refused error }

func (e notSent) Error() string        { return "redis unavailable: " + e.err.Error() }
func (e notSent) Unwrap() error        { return e.err }
func (e notSent) Is(target error) bool { return errors.Is(e.refused, target) }

// OnOpen registers f to be called each time a node's breaker opens, and
// returns a function that removes it. f runs on the goroutine of the call
// that opened it and must not block.
func (b *Breaker) OnOpen(f func()) (remove func()) {
	if b == nil {
		return func() {}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onOpen[&f] = struct{}{}
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.onOpen, &f)
	}
}

func (b *Breaker) now() int64 { return int64(time.Since(b.epoch)) }

func (b *Breaker) node(key string) *nodeBreaker {
	if route := b.route.Load(); route != nil {
		return (*route)[keyspace.KeySlot(key)]
	}
	return b.single
}

// opened starts the probes of n, which just opened (unless the Conn is
// closed: a call after Close fails too), and tells the OnOpen functions.
func (b *Breaker) opened(n *nodeBreaker) {
	b.mu.Lock()
	if b.ctx.Err() == nil && n.probing.CompareAndSwap(false, true) {
		b.probes.Add(1) // under mu, as close's cancel: never after its Wait began
		go b.probe(n)
	}
	listeners := make([]*func(), 0, len(b.onOpen))
	for f := range b.onOpen {
		listeners = append(listeners, f)
	}
	b.mu.Unlock()
	for _, f := range listeners {
		(*f)()
	}
}

// probe asks n's node, every cooldown, for a reply, until one comes (which
// closes n), until n is closed by a call's success, or until the Conn is
// closed. Each probe may take a cooldown: it runs beside the callers, who
// are refused at once meanwhile.
func (b *Breaker) probe(n *nodeBreaker) {
	defer b.probes.Done()
	timer := time.NewTimer(b.cooldown)
	defer timer.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-timer.C:
		}
		if !n.open.Load() || n.retired.Load() {
			// Closed by a call, or no longer serving anything. Stop, unless
			// it opened again before this probe could say it stopped.
			n.probing.Store(false)
			if !n.open.Load() || n.retired.Load() || !n.probing.CompareAndSwap(false, true) {
				return
			}
		}
		node := b.nodeClient(n)
		if node == nil {
			// rueidis no longer knows the address (or never knew it: the
			// topology watch may name a node otherwise than rueidis does).
			// Nothing can prove the node down: let the calls through, and
			// their own failures open the breaker again.
			n.close()
		} else {
			ctx, cancel := context.WithTimeout(b.ctx, b.cooldown)
			err := node.Do(ctx, b.ping).Error()
			cancel()
			if redisAnswered(err) {
				n.close()
			}
		}
		timer.Reset(b.cooldown)
	}
}

// nodeClient returns the client that sends commands to n's node: the
// Conn's own for the breaker of a standalone server (or of the slots no
// master serves), else rueidis's client of n's address, nil when rueidis
// does not know that address.
func (b *Breaker) nodeClient(n *nodeBreaker) rueidis.Client {
	if n.addr == "" {
		return b.redis
	}
	return b.redis.Nodes()[n.addr]
}

// setRoute makes the breakers follow the cluster's slots: ranges say which
// master serves which slots; slots no range covers share one breaker.
// A node that keeps its address keeps its breaker; a node no longer listed
// stops being probed.
func (b *Breaker) setRoute(ranges []slotRange) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	route := make([]*nodeBreaker, keyspace.ClusterSlots)
	for i := range route {
		route[i] = b.single
	}
	live := make(map[string]*nodeBreaker, len(ranges))
	for _, r := range ranges { // a master may serve several ranges: one breaker
		n := live[r.addr]
		if n == nil {
			n = b.nodes[r.addr]
		}
		if n == nil {
			n = &nodeBreaker{addr: r.addr}
		}
		live[r.addr] = n
		for s := r.first; s <= r.last && s < keyspace.ClusterSlots; s++ {
			route[s] = n
		}
	}
	for addr, n := range b.nodes {
		if live[addr] == nil {
			n.retired.Store(true)
		}
	}
	b.nodes = live
	b.route.Store(&route)
}

func (b *Breaker) close() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.cancel()
	b.mu.Unlock()
	b.probes.Wait()
}

// nodeBreaker is the breaker of one node. Successes, the common case, touch
// only atomics; failures take a mutex.
type nodeBreaker struct {
	addr string // the node's host:port on a cluster; "" on a standalone server

	open     atomic.Bool
	failing  atomic.Bool // failures > 0
	probing  atomic.Bool // a probe goroutine runs
	checking atomic.Bool // a check (see Breaker.check) runs
	retired  atomic.Bool // the node no longer serves any slot

	mu           sync.Mutex
	failures     int64 // in the streak: since the last success
	firstFailure int64 // when the first of them was recorded
	lastFailure  int64 // when the last of them was recorded
}

// record notes, at now, the outcome of a call, and reports whether this
// failure opened the breaker.
func (n *nodeBreaker) record(err error, now, threshold int64) (opened bool) {
	if redisAnswered(err) {
		n.close()
		return false
	}
	if n.open.Load() {
		return false
	}
	n.mu.Lock()
	if n.failures == 0 || now-n.lastFailure >= int64(breakerStreakGap) {
		n.failures, n.firstFailure = 0, now
		n.failing.Store(true)
	}
	n.failures++
	n.lastFailure = now
	// A node that refuses connections is down now, and one that answered
	// no check for a second is stalled: no count or span needs to prove
	// it; nor does a count, one that has failed every call for a second.
	span := now - n.firstFailure
	trip := Unreachable(err) || errors.Is(err, errNodeStalled) ||
		n.failures >= threshold && (threshold == 1 || span >= int64(breakerMinSpan)) ||
		n.failures >= 2 && span >= int64(breakerStallSpan)
	// Opened under mu: a success recorded meanwhile (close) waits for it,
	// then closes the breaker again, rather than being overwritten by it.
	opened = trip && n.open.CompareAndSwap(false, true)
	n.mu.Unlock()
	return opened
}

func (n *nodeBreaker) close() {
	if n.failing.Load() {
		n.mu.Lock()
		n.failures = 0
		n.failing.Store(false)
		n.mu.Unlock()
	}
	if n.open.Load() {
		n.open.Store(false)
	}
}

// redisAnswered reports whether err, the outcome of a call, is nil or wraps
// a reply of the server (nil, WRONGTYPE…): Redis is up. Other errors say
// that it could not be reached in time.
func redisAnswered(err error) bool {
	if err == nil || rueidis.IsRedisNil(err) { // first: the variable below escapes
		return true
	}
	var reply *rueidis.RedisError
	return errors.As(err, &reply)
}
