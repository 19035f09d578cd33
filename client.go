package typecache

import (
	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/transport"
)

// Client is typecache's connection to one Redis deployment, which every
// package built on it shares. It is safe for concurrent use by multiple
// goroutines; build one per Redis deployment and share it.
//
// Client-side caching uses rueidis's tracking mode (OPTIN by default). A
// very wide fleet may prefer BCAST, which costs Redis no per-key table:
// ClientOption.ClientTrackingOptions = []string{"BCAST", "PREFIX",
// "cache:"} (one PREFIX per key space to track: "cache:", "session:",
// "counter:", "leaderboard:", or an instance's "cache:<name>:"). Then each
// package keeps a local tier only for a key space under a prefix; the
// others work without one.
//
// NewClient installs its own ClientOption.OnInvalidations callback. A callback
// the caller set in the options keeps working: it is called first, with the
// same messages, on the same goroutine.
//
// On a cluster, a failover or a resharding moves slots to a node that never
// tracked this client's reads, and the node that lost them may never send
// their invalidations. So a cluster Client also asks the cluster which master
// serves each slot, four times per ClusterOption.ShardsRefreshInterval, and
// tells subscribers to drop everything as soon as any slot's master changed.
type Client struct {
	conn    *transport.Conn
	breaker *Breaker // nil when turned off
}

func init() {
	// The packages built on a Client reach its transport through
	// internal/clientconn; the root exports none of it.
	transport.SetConnOf(func(client any) *transport.Conn { return client.(*Client).conn })
}

// NewClient connects to Redis as rueidis.NewClient does and returns a Client
// whose invalidation messages reach every [Subscriber].
//
// With ClientOption.DisableCache nothing is tracked, so subscribers hear only
// Close.
//
// A read that fails because Redis is [Unreachable] is not retried (rueidis
// would retry it until the context ends); ClientOption.RetryDelay, when set,
// still decides for every other error.
//
// The option is copied; the caller's value is not modified. A zero
// ClusterOption.ShardsRefreshInterval becomes [DefaultTopologyInterval], so
// that a client that reads only from local tiers still notices a failover.
//
// options configure what typecache adds, such as the breakers
// ([WithBreaker]); an invalid one returns an error wrapping
// [ErrInvalidOptions].
func NewClient(opt rueidis.ClientOption, options ...Option) (*Client, error) {
	var s settings
	for _, o := range options {
		o(&s)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	if opt.ClusterOption.ShardsRefreshInterval <= 0 {
		opt.ClusterOption.ShardsRefreshInterval = DefaultTopologyInterval
	}
	conn, err := transport.Dial(opt, transport.Options{
		Breaker:   transport.BreakerOptions{Failures: s.breakerFailures, Cooldown: s.breakerCooldown},
		ReplyPoll: s.replyPoll,
	})
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn}
	if b := conn.Breaker(); b != nil {
		c.breaker = &Breaker{nodes: b}
	}
	return c, nil
}

// Redis returns the underlying rueidis client, for commands typecache does not
// wrap (send them past the breakers with [Guard]). Reads through its DoCache
// are tracked like typecache's own.
//
// Pin the read-only commands you send through it (cmd.Pin()): rueidis
// (v1.0.79 and v1.0.80 alike) returns a retried read to its pool while the
// broken connection it was first sent on may still be writing it, and any
// later command of the process, typecache's included, may then reuse that
// memory.
func (c *Client) Redis() rueidis.Client { return c.conn.Redis() }

// Breaker returns the Client's circuit breakers, one per Redis node, which
// every package built on the Client consults; nil (which allows everything)
// when WithBreaker turned them off.
func (c *Client) Breaker() *Breaker { return c.breaker }

// Close closes the connections. Subscribers are told to drop everything,
// since no further invalidations will arrive. Calls after the first do
// nothing; a command sent through the Client afterwards fails, and [Guard]
// says so with [ErrClosed]. Every package built on the Client then fails
// every call, and its constructors, with its own ErrClosed, which matches
// ErrClosed: close the Client last.
func (c *Client) Close() { c.conn.Close() }

// Subscribe registers s for invalidations of keys that start with prefix (an
// empty prefix matches every key) and returns a function that removes it.
//
// Invalidations arrive only for keys this client has read with DoCache (the
// OPTIN tracking mode rueidis uses by default). Every subscriber is told to
// drop everything when a connection is lost or the server is flushed, because
// invalidations may have been missed.
//
// s's methods run on rueidis's connection reader goroutines, possibly
// concurrently: they must be safe for concurrent use and must not block.
func (c *Client) Subscribe(prefix string, s Subscriber) (unsubscribe func()) {
	return c.conn.Subscribe(prefix, s)
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
