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
)

// Algorithm selects how a [Limiter] counts requests. The zero value is [GCRA].
type Algorithm int

const (
	// GCRA is the generic cell rate algorithm, a token bucket stored as one
	// timestamp: Limit requests per Period on average, with up to Burst of
	// them at once. O(1) memory per key. The default.
	GCRA Algorithm = iota
	// SlidingWindowLog stores the time of every admitted request and admits
	// at most Limit in any interval of length Period: exact, O(Limit) memory
	// per key.
	SlidingWindowLog
	// SlidingWindowCounter keeps two fixed-window counters and weights the
	// previous one by how much of it still overlaps the sliding window, as
	// Cloudflare does. O(1) memory; approximate (see the package doc for the
	// bound).
	SlidingWindowCounter
	// FixedWindow counts requests in a window of length Period that starts
	// with the key's first request: exact within a window, but up to
	// 2×Limit can pass around a window's end.
	FixedWindow
)

// String returns the algorithm's name, as used in the documentation.
func (a Algorithm) String() string {
	switch a {
	case GCRA:
		return "gcra"
	case SlidingWindowLog:
		return "sliding-window-log"
	case SlidingWindowCounter:
		return "sliding-window-counter"
	case FixedWindow:
		return "fixed-window"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// FailureMode says what a [Limiter] decides when Redis cannot be reached.
// The zero value is [FailOpen].
type FailureMode int

const (
	// FailOpen admits requests while Redis is unreachable: an outage of the
	// limiter does not become an outage of the service. The default, as in
	// Envoy and Stripe's advice.
	FailOpen FailureMode = iota
	// FailClosed denies requests while Redis is unreachable: for endpoints
	// where an unlimited burst is worse than no service (logins, one-time
	// codes, expensive jobs).
	FailClosed
)

// DefaultPrefix is the key prefix used when [Options].Prefix is empty.
const DefaultPrefix = "ratelimit:"

// Options configures a [Limiter]. Limit and Period must be set; every other
// zero field means the documented default.
type Options struct {
	// Algorithm is how requests are counted; the zero value is GCRA.
	Algorithm Algorithm
	// Limit is the number of requests (cost units) allowed per Period. > 0.
	Limit int
	// Period is the window over which Limit applies. > 0, and at least one
	// microsecond per request (Period/Limit ≥ 1µs), the unit of the scripts.
	Period time.Duration
	// Burst applies to GCRA only: how many requests may pass at once after
	// a quiet spell (N means N simultaneous requests, as in redis_rate; not
	// N+1 as in throttled). 0 means Limit. Other algorithms must leave it 0.
	Burst int
	// Prefix starts every Redis key of this limiter: a key is
	// Prefix + "{" + key + "}", so keys spread over cluster slots by their
	// identifier. Give every limiter (and every algorithm) its own prefix.
	// Empty means DefaultPrefix. It must not contain '{' or '}'.
	Prefix string
	// FailureMode decides requests while Redis is unreachable; the zero
	// value is FailOpen.
	FailureMode FailureMode
	// LocalDenyCache, when true, remembers in this process each key denied
	// until a time T and denies further requests of the same or higher cost
	// for that key until T without a round trip. Such a decision can only
	// be wrong if another process calls Reset on the key before T. The cache
	// holds at most LocalDenyCacheSize keys.
	LocalDenyCache bool
	// LocalDenyCacheSize bounds the local deny cache; 0 means 10,000 keys.
	LocalDenyCacheSize int
}

// defaultLocalDenyCacheSize is the bound of the local deny cache when
// Options.LocalDenyCacheSize is 0.
const defaultLocalDenyCacheSize = 10_000

// ErrInvalidOptions is wrapped by New's errors for invalid Options; the
// message names the field.
var ErrInvalidOptions = errors.New("ratelimit: invalid options")

// ErrEmptyKey is returned for an empty key: it would make every caller share
// one limit.
var ErrEmptyKey = errors.New("ratelimit: empty key")

// ErrInvalidCost is returned by AllowN for a cost below 1.
var ErrInvalidCost = errors.New("ratelimit: cost must be at least 1")

// ErrCostExceedsLimit is returned by AllowN for a cost larger than the
// limiter's Burst (GCRA) or Limit (other algorithms): such a request can
// never be allowed, so no retry time is given for it.
var ErrCostExceedsLimit = errors.New("ratelimit: cost exceeds the limit, the request can never be allowed")

// validate checks o and returns a copy with the defaults filled in.
func (o Options) validate() (Options, error) {
	invalid := func(format string, args ...any) (Options, error) {
		return Options{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	switch {
	case o.Algorithm < GCRA || o.Algorithm > FixedWindow:
		return invalid("Options.Algorithm is unknown: %d", int(o.Algorithm))
	case o.Limit <= 0:
		return invalid("Options.Limit must be > 0, got %d", o.Limit)
	case o.Period <= 0:
		return invalid("Options.Period must be > 0, got %s", o.Period)
	case o.Period/time.Duration(o.Limit) < time.Microsecond:
		return invalid("Options.Period/Options.Limit must be at least 1µs, got %s/%d", o.Period, o.Limit)
	case o.Burst < 0:
		return invalid("Options.Burst must be >= 0, got %d", o.Burst)
	case o.Burst > 0 && o.Algorithm != GCRA:
		return invalid("Options.Burst applies to GCRA only, got %d with %s", o.Burst, o.Algorithm)
	case strings.ContainsAny(o.Prefix, "{}"):
		return invalid("Options.Prefix must not contain '{' or '}' (the hash tag goes on the key), got %q", o.Prefix)
	case o.FailureMode != FailOpen && o.FailureMode != FailClosed:
		return invalid("Options.FailureMode is unknown: %d", int(o.FailureMode))
	case o.LocalDenyCacheSize < 0:
		return invalid("Options.LocalDenyCacheSize must be >= 0, got %d", o.LocalDenyCacheSize)
	}
	if o.Burst == 0 && o.Algorithm == GCRA {
		o.Burst = o.Limit
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.LocalDenyCacheSize == 0 {
		o.LocalDenyCacheSize = defaultLocalDenyCacheSize
	}
	return o, nil
}

// Source says who made a decision.
type Source int

const (
	// FromRedis: the decision was made by the limiter's script in Redis.
	FromRedis Source = iota
	// FromLocalDenyCache: the key was already denied until a later time, so
	// the request was denied in this process without a round trip.
	FromLocalDenyCache
	// FromFailOpen: Redis failed and the request was admitted (FailOpen).
	FromFailOpen
	// FromFailClosed: Redis failed and the request was denied (FailClosed).
	FromFailClosed
)

// String returns a short name of the source.
func (s Source) String() string {
	switch s {
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
	// mode because Redis failed.
	Source Source
	// Err is the Redis error behind a fallback decision (Source FromFailOpen
	// or FromFailClosed), for logging; nil otherwise.
	Err error
}

// A Limiter decides whether requests identified by a key may proceed,
// counting them in Redis so every process sharing the Redis deployment shares
// the limit. It is safe for concurrent use by multiple goroutines; every
// decision is one Redis round trip (none when the local deny cache answers),
// and the limiter holds no goroutines or connections of its own: the
// typecache.Client it was built on owns them.
type Limiter struct {
	redis   rueidis.Client
	opts    Options
	script  *rueidis.Lua
	args    [2]string // the script's per-limiter arguments
	maxCost int
	denials *localDenyCache // nil when Options.LocalDenyCache is false
	// scriptNow, set by tests only, replaces Redis TIME in the scripts.
	scriptNow func() time.Time
}

// New returns a Limiter that counts in c's Redis deployment. It fails, naming
// the field, when opts is invalid; opts is not modified.
func New(c *typecache.Client, opts Options) (*Limiter, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil *typecache.Client", ErrInvalidOptions)
	}
	o, err := opts.validate()
	if err != nil {
		return nil, err
	}
	l := &Limiter{redis: c.Redis(), opts: o}
	l.script, l.args, l.maxCost = scriptFor(o)
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
// When Redis fails (unreachable, too slow for ctx's deadline, a script
// error), AllowN returns the decision of the configured FailureMode with a
// nil error; Result.Source and Result.Err say so. When ctx is cancelled,
// AllowN returns an error wrapping context.Canceled instead: the caller gave
// up, nothing was decided.
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (Result, error) {
	if err := l.checkCost(key, n); err != nil {
		return Result{}, err
	}
	if l.denials != nil {
		if res, ok := l.denials.lookup(key, n); ok {
			return res, nil
		}
	}
	res, err := l.decide(ctx, key, n)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return Result{}, fmt.Errorf("ratelimit: key %q: %w", key, ctx.Err())
		}
		return l.fallback(fmt.Errorf("ratelimit: key %q: %w", key, err)), nil
	}
	if !res.Allowed && l.denials != nil {
		l.denials.remember(key, n, res)
	}
	return res, nil
}

func (l *Limiter) checkCost(key string, n int) error {
	switch {
	case key == "":
		return ErrEmptyKey
	case n < 1:
		return fmt.Errorf("%w, got %d (key %q)", ErrInvalidCost, n, key)
	case n > l.maxCost:
		return fmt.Errorf("%w: cost %d > %d (key %q)", ErrCostExceedsLimit, n, l.maxCost, key)
	}
	return nil
}

// fallback is the decision of the failure mode when Redis failed with err.
func (l *Limiter) fallback(err error) Result {
	if l.opts.FailureMode == FailClosed {
		return Result{Allowed: false, Limit: l.maxCost, Source: FromFailClosed, Err: err}
	}
	return Result{Allowed: true, Limit: l.maxCost, Source: FromFailOpen, Err: err}
}

// Reset deletes key's state, restoring its full quota, and forgets a local
// denial of it in this process. Local deny caches of other processes keep
// denying the key until their recorded time.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	if l.denials != nil {
		l.denials.forget(key)
	}
	if err := l.redis.Do(ctx, l.redis.B().Del().Key(l.redisKey(key)).Build()).Error(); err != nil {
		return fmt.Errorf("ratelimit: reset key %q: %w", key, err)
	}
	return nil
}

// redisKey is the Redis key of key: the hash tag is the identifier, so
// different identifiers land on different cluster slots.
func (l *Limiter) redisKey(key string) string {
	return l.opts.Prefix + "{" + key + "}"
}
