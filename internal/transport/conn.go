// Package transport is typecache's connection to Redis, shared by every
// package built on a typecache.Client: the rueidis client and its tracked
// reads (DoTracked), the invalidation hub, the direct client for lone
// writes (Direct), the per-node circuit breakers (Breaker, Guard) and, on a
// cluster, the topology watch.
//
// The public root package holds one [Conn] per Client and exposes only
// what applications use; the feature packages reach the Conn through
// internal/clientconn. This package imports nothing of the root.
package transport

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

var errShortExec = errors.New("typecache: EXEC returned a short reply")

// Conn is a rueidis client with an invalidation hub, a direct client and
// per-node breakers. It is safe for concurrent use by multiple goroutines.
//
// Dial installs its own ClientOption.OnInvalidations callback. A callback
// the caller set in the options keeps working: it is called first, with the
// same messages, on the same goroutine.
//
// On a cluster, a failover or a resharding moves slots to a node that never
// tracked this client's reads, and the node that lost them may never send
// their invalidations. So a cluster Conn also asks the cluster which master
// serves each slot, four times per ClusterOption.ShardsRefreshInterval, and
// tells subscribers to drop everything as soon as any slot's master changed.
type Conn struct {
	redis    rueidis.Client
	direct   rueidis.Client // see Direct
	hub      *invalidationHub
	tracked  *trackedRead   // nil when nothing is tracked
	topology *topologyWatch // nil unless the client is a cluster client
	breaker  *Breaker       // nil when turned off
	poll     *replyPoll     // the direct client's
	// multi and exec wrap the transactions this Conn sends: built once and
	// pinned, so never recycled.
	multi, exec rueidis.Completed

	closeOnce sync.Once
	closed    atomic.Bool // see Closed
}

// Options are what a Conn adds to its rueidis client. The root package's
// options (WithBreaker, WithReplyPoll) document them for applications and
// supply the defaults: here zero values are taken as they are.
type Options struct {
	// Breaker says when the breakers open; see [BreakerOptions].
	Breaker BreakerOptions
	// ReplyPoll is how long a read of the direct client polls its socket
	// for the reply before it parks (see [Conn.Direct]); 0 turns the
	// poll off.
	ReplyPoll time.Duration
}

// Dial connects to Redis as rueidis.NewClient does, with opt's
// ClusterOption.ShardsRefreshInterval as the topology watch's period (the
// caller sets it: it must be positive), and returns a Conn whose
// invalidation messages reach every [Subscriber].
//
// A read that fails because Redis is [Unreachable] is not retried (rueidis
// would retry it until the context ends); ClientOption.RetryDelay, when set,
// still decides for every other error. opt is a copy: the caller's value is
// not modified.
func Dial(opt rueidis.ClientOption, o Options) (*Conn, error) {
	hub := newInvalidationHub(opt.OnInvalidations)
	if !opt.DisableCache || opt.OnInvalidations != nil {
		// Without client-side caching nothing is tracked, so there is nothing
		// to dispatch, and rueidis without a callback can answer a lone
		// caller on its own goroutine instead of its pipelining ones.
		opt.OnInvalidations = hub.dispatch
	}
	opt.RetryDelay = failFastRetries(opt.RetryDelay)
	redis, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("typecache: connect: %w", err)
	}
	poll := newReplyPoll(o.ReplyPoll)
	direct, err := newDirectClient(opt, poll)
	if err != nil {
		redis.Close()
		return nil, fmt.Errorf("typecache: connect: %w", err)
	}
	c := &Conn{redis: redis, direct: direct, hub: hub, tracked: newTrackedRead(redis, opt), breaker: newBreaker(redis, o.Breaker), poll: poll,
		multi: redis.B().Multi().Build().Pin(), exec: redis.B().Exec().Build().Pin()}
	if redis.Mode() == rueidis.ClientModeCluster {
		c.topology = watchTopology(redis, hub, c.breaker, opt)
	}
	return c, nil
}

// Redis returns the underlying rueidis client. Reads through its DoCache
// are tracked like DoTracked's.
func (c *Conn) Redis() rueidis.Client { return c.redis }

// Breaker returns the Conn's circuit breakers, one per Redis node; nil
// (which allows everything) when they are turned off.
func (c *Conn) Breaker() *Breaker { return c.breaker }

// Close closes the connections. Subscribers are told to drop everything,
// since no further invalidations will arrive. Calls after the first do
// nothing.
func (c *Conn) Close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if c.topology != nil {
			c.topology.stop()
		}
		c.breaker.close()
		c.redis.Close()
		c.direct.Close()
		c.hub.dispatch(nil)
	})
}

// Subscribe registers s for invalidations of keys that start with prefix (an
// empty prefix matches every key) and returns a function that removes it.
// s's methods run on rueidis's connection reader goroutines, possibly
// concurrently: they must be safe for concurrent use and must not block.
func (c *Conn) Subscribe(prefix string, s Subscriber) (unsubscribe func()) {
	return c.hub.subscribe(prefix, s)
}

// A Subscriber is told which keys changed in Redis. Its methods must return
// quickly and never block: they run on the goroutine that reads replies from
// Redis, and every command on that connection waits for them.
type Subscriber interface {
	// Invalidate reports that key was modified, deleted, expired or evicted.
	Invalidate(key string)
	// InvalidateAll reports that any key may have changed: a connection was
	// lost or the server was flushed.
	InvalidateAll()
}
