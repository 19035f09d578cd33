package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/transport"
)

// Source says who made a decision.
type Source int

const (
	// NoDecision, the zero value, is the Source of the Result returned
	// with an error: nothing was decided, and Allowed is false.
	NoDecision Source = iota
	// FromRedis: the decision was made by the limiter's script in Redis.
	FromRedis
	// FromLocalDenyCache: the key was already denied until a later time, so
	// the request was denied in this process without a round trip.
	FromLocalDenyCache
	// FromFailOpen: Redis was unavailable and the request was admitted
	// (FailOpen).
	FromFailOpen
	// FromFailClosed: Redis was unavailable and the request was denied
	// (FailClosed).
	FromFailClosed
)

// String returns a short name of the source.
func (s Source) String() string {
	switch s {
	case NoDecision:
		return "none"
	case FromRedis:
		return "redis"
	case FromLocalDenyCache:
		return "local-deny-cache"
	case FromFailOpen:
		return "fail-open"
	case FromFailClosed:
		return "fail-closed"
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// Result is one decision.
type Result struct {
	// Allowed reports whether the request may proceed. An allowed request
	// has consumed its cost; a denied one has consumed nothing.
	Allowed bool
	// Limit is the most Remaining can be: Burst for GCRA, Limit otherwise.
	Limit int
	// Remaining is how many cost units could be spent right now after this
	// decision (for a local denial: as of the Redis denial it repeats).
	Remaining int
	// RetryAfter is, for a denied request, how long until the same request
	// would be allowed if nobody else spent quota meanwhile; 0 when allowed
	// (and when the decision is a fallback).
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to its full quota if no
	// further request is admitted.
	ResetAfter time.Duration
	// Source says who decided: Redis, the local deny cache, or the failure
	// mode because Redis was unavailable; NoDecision (the zero value) when
	// AllowN returned an error.
	Source Source
	// Err is the error behind a fallback decision (Source FromFailOpen or
	// FromFailClosed), for logging; nil otherwise.
	Err error
}

// A Limiter decides whether requests identified by a key may proceed,
// counting them in Redis so every process sharing the Redis deployment shares
// the limit. It is safe for concurrent use by multiple goroutines; every
// decision is one Redis round trip (none when the local deny cache answers),
// and the limiter holds no goroutines or connections of its own: the
// typecache.Client it was built on owns them, so it has no Close: once that
// client is closed, every call returns ErrClosed.
type Limiter struct {
	redis   rueidis.Client
	send    rediscmd.Sender // conn.DoUntracked
	conn    *transport.Conn // the client's: its breakers are shared with every package on it
	opts    Options
	space   keyspace.Space
	algo    algorithm
	denials *localDenyCache // nil when Options.LocalDenyCache is false
	// now, set by tests only, replaces Redis TIME in the scripts.
	now func() time.Time
}

// New returns a Limiter that counts in c's Redis deployment. It fails with an
// error wrapping ErrInvalidOptions and naming the field when opts is invalid;
// opts is not modified.
func New(c *typecache.Client, opts Options) (*Limiter, error) {
	if c == nil {
		return nil, invalid("New needs a *typecache.Client, got nil")
	}
	o, err := opts.validated()
	if err != nil {
		return nil, err
	}
	space, err := keyspace.New(keyspace.RateLimit, o.Prefix)
	if err != nil {
		return nil, invalid("Options.Prefix %v", err)
	}
	conn, err := clientconn.Live(c, ErrClosed)
	if err != nil {
		return nil, err
	}
	o.Observer = observe.Named(o.Observer, o.Prefix, Observer(NoopObserver{}))
	l := &Limiter{redis: c.Redis(), send: conn.DoUntracked, conn: conn, opts: o, space: space, algo: algorithmOf(o)}
	if o.LocalDenyCache {
		l.denials = newLocalDenyCache(o.LocalDenyCacheSize)
	}
	return l, nil
}

// Options returns the limiter's options with the defaults filled in.
func (l *Limiter) Options() Options { return l.opts }

// Allow is AllowN(ctx, key, 1).
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN decides whether a request of cost n for key may proceed now, and
// spends n units of the key's quota only when it may.
//
// n must be at least 1 and at most the limiter's Burst (GCRA) or Limit;
// larger costs fail with an error wrapping ErrCostExceedsLimit. An empty key
// fails with ErrEmptyKey.
//
// When Redis is unavailable — the client's breaker of the key's node is
// open (ErrUnavailable, at once), it cannot be reached before ctx's deadline
// (a refused connection fails at once), or it replies that it cannot serve now
// (LOADING, BUSY, CLUSTERDOWN, TRYAGAIN, MASTERDOWN, READONLY, OOM,
// NOREPLICAS) — AllowN returns the decision of the configured FailureMode
// with a nil error; Result.Source and Result.Err say so. Any other reply of
// Redis (WRONGTYPE: something else wrote the key; a script error) is
// returned as an error: it is a fault to fix, not an outage to ride out.
// So is ErrClosed, once the typecache.Client is closed: nothing is
// admitted or denied, not even by the local deny cache.
// When ctx is cancelled, AllowN returns an error wrapping context.Canceled:
// the caller gave up, nothing was decided.
//
// Without a deadline on ctx, a stalled Redis holds the call until rueidis
// gives up on the connection; give ctx a deadline (the middleware does).
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (Result, error) {
	if err := l.checkCost(key, n); err != nil {
		return Result{}, err
	}
	obs := l.opts.Observer
	if l.denials != nil && !l.conn.Closed() { // after Close, decide says ErrClosed
		if res, ok := l.denials.lookup(key, n); ok {
			obs.OnDeniedLocally(key, n)
			return res, nil
		}
	}
	res, err := l.decide(ctx, key, n)
	switch {
	case err == nil && res.Allowed:
		obs.OnAllowed(key, n)
	case err == nil:
		if l.denials != nil {
			l.denials.remember(key, n, res)
		}
		obs.OnDenied(key, n)
	case errors.Is(ctx.Err(), context.Canceled):
		return Result{}, fmt.Errorf("ratelimit: key %q: %w", key, ctx.Err())
	case errors.Is(err, ErrUnavailable):
		return l.fallback(key, fmt.Errorf("ratelimit: key %q: %w", key, err)), nil
	case unavailable(err):
		return l.fallback(key, fmt.Errorf("ratelimit: key %q: redis unavailable: %w", key, err)), nil
	default:
		err = fmt.Errorf("ratelimit: key %q: %w", key, err)
		obs.OnError(key, err)
		return Result{}, err
	}
	res.Source = FromRedis
	return res, nil
}

func (l *Limiter) checkCost(key string, n int) error {
	switch {
	case key == "":
		return ErrEmptyKey
	case n < 1:
		return fmt.Errorf("%w, got %d (key %q)", ErrInvalidCost, n, key)
	case n > l.algo.maxCost:
		return fmt.Errorf("%w: cost %d > %d (key %q)", ErrCostExceedsLimit, n, l.algo.maxCost, key)
	}
	return nil
}

// fallback is the decision of the failure mode for key when Redis is
// unavailable, err saying why.
func (l *Limiter) fallback(key string, err error) Result {
	if l.opts.FailureMode == FailClosed {
		l.opts.Observer.OnFailClosed(key, err)
		return Result{Allowed: false, Limit: l.algo.maxCost, Source: FromFailClosed, Err: err}
	}
	l.opts.Observer.OnFailOpen(key, err)
	return Result{Allowed: true, Limit: l.algo.maxCost, Source: FromFailOpen, Err: err}
}

// unavailable reports whether err, the failure of a script call, means that
// Redis could not decide: it was not reached in time (no reply at all: a
// refused or broken connection, a deadline), or it replied that it cannot
// serve now. Other replies mean the script ran into a fault (WRONGTYPE when
// something else wrote the key) and are not hidden behind the failure mode;
// nor is a closed client (ErrClosed), a programming error.
func unavailable(err error) bool {
	if errors.Is(err, ErrClosed) {
		return false
	}
	var reply *rueidis.RedisError
	if !errors.As(err, &reply) {
		return true
	}
	code, _, _ := strings.Cut(reply.Error(), " ")
	switch code {
	case "LOADING", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "OOM", "NOREPLICAS":
		return true
	}
	return false
}

// Reset deletes key's state, restoring its full quota, and forgets a local
// denial of it in this process. Local deny caches of other processes keep
// denying the key until their recorded time. Like a decision, it goes past
// the client's breaker of the key's node (refused with ErrUnavailable while
// it is open).
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	if l.denials != nil {
		l.denials.forget(key)
	}
	rkey := l.redisKey(key)
	if _, err := l.guard(ctx, rkey, func() (rueidis.RedisMessage, error) {
		return l.send(ctx, l.redis.B().Del().Key(rkey).Build())
	}); err != nil {
		return fmt.Errorf("ratelimit: reset key %q: %w", key, err)
	}
	return nil
}

// redisKey is the Redis key of key: ratelimit:<Prefix>:<algorithm>{<key>}.
// The hash tag is the whole identifier, so identifiers spread over cluster
// slots; the algorithm's kind keeps limiters of different algorithms that
// share a Prefix apart.
func (l *Limiter) redisKey(key string) string {
	return l.space.Key(l.algo.kind, key)
}
