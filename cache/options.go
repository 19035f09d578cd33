package cache

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/typecache/typecache/codec"
)

// Defaults for the zero values of [Options].
const (
	// DefaultNegativeTTL is how long a loader's ErrNotFound is remembered.
	DefaultNegativeTTL = 30 * time.Second
	// DefaultJitter is the default spread of TTLs: ±10%.
	DefaultJitter = 0.1
	// DefaultEarlyRefreshBeta is XFetch's β: 1 is the paper's optimum.
	DefaultEarlyRefreshBeta = 1.0
	// DefaultMaxLocalEntries bounds the local tier's entry count.
	DefaultMaxLocalEntries = 100_000
	// DefaultMaxLocalBytes bounds the local tier's weight: the sum of the
	// keys' lengths and the values' encoded sizes, plus a fixed overhead per
	// entry.
	DefaultMaxLocalBytes = 32 << 20
	// DefaultMaxValueBytes is the largest encoded value Set and Fetch store.
	DefaultMaxValueBytes = 16 << 20
	// DefaultLoadTimeout bounds one shared load.
	DefaultLoadTimeout = 30 * time.Second
	// DefaultRedisTimeout bounds each call to Redis.
	DefaultRedisTimeout = time.Second
	// DefaultBreakerFailures is how many Redis failures in a row open the
	// breaker.
	DefaultBreakerFailures = 5
	// DefaultBreakerCooldown is how long an open breaker skips Redis before
	// it lets one probe through.
	DefaultBreakerCooldown = time.Second

	// MaxTTL is the longest TTL (including the stale window) a Cache stores.
	MaxTTL = 365 * 24 * time.Hour
)

// Options configures a [Cache]. The zero value of every field except TTL
// means the documented default; New reads the options and never modifies
// them.
type Options[T any] struct {
	// TTL is how long a stored value is fresh (its soft TTL). Required: a
	// cache without expiry grows without bound and never heals a bad value.
	TTL time.Duration

	// StaleTTL is the stale window after TTL: a value past its TTL but
	// within the window is still returned by Fetch while one background
	// refresh runs, and returned with an error wrapping ErrStale when the
	// loader fails. Redis keeps the key for TTL + StaleTTL. 0 means no
	// stale window.
	StaleTTL time.Duration

	// NegativeTTL is how long a loader's ErrNotFound is cached as "absent".
	// 0 means DefaultNegativeTTL; a negative value turns negative caching off.
	NegativeTTL time.Duration

	// Jitter spreads each stored TTL uniformly by ±Jitter×TTL, so keys
	// written together do not expire together. 0 means DefaultJitter; a
	// negative value turns jitter off; at most 0.5.
	Jitter float64

	// EarlyRefreshBeta is XFetch's β: Fetch refreshes a value before its TTL
	// with a probability that rises toward the expiry, faster for values
	// that took longer to load; β > 1 refreshes earlier. 0 means
	// DefaultEarlyRefreshBeta; a negative value turns early refresh off.
	EarlyRefreshBeta float64

	// Codec encodes values for Redis. nil means codec.MsgPack[T]().
	Codec codec.Codec[T]

	// MaxLocalEntries and MaxLocalBytes bound the local tier of decoded
	// values; the tier evicts (CLOCK, per shard) when either bound is
	// reached. 0 means DefaultMaxLocalEntries and DefaultMaxLocalBytes.
	// DisableLocal turns the tier off: every read goes to rueidis.
	MaxLocalEntries int
	MaxLocalBytes   int64
	DisableLocal    bool

	// Clone, when set, is applied to every value the cache returns, so
	// callers may modify what they get. Without it values are shared
	// between callers and must be treated as read-only.
	Clone func(T) T

	// MaxValueBytes rejects values whose encoding is larger, before they are
	// sent. 0 means DefaultMaxValueBytes.
	MaxValueBytes int

	// LoadTimeout bounds a shared load (the loader and the store that
	// follows), which runs apart from the callers' contexts so that one
	// caller giving up does not cancel it for the others. 0 means
	// DefaultLoadTimeout.
	LoadTimeout time.Duration

	// RedisTimeout bounds each call to Redis when the caller's context has
	// no earlier deadline (rueidis retries reads on a dead connection until
	// the context ends). Fetch and FetchMany also give their read at most
	// half of the time left on the caller's context, so that a stalled
	// Redis leaves the loader the other half. 0 means DefaultRedisTimeout; a
	// negative value leaves calls bounded by the caller's context only.
	RedisTimeout time.Duration

	// BreakerFailures Redis failures with no success in between, the first
	// and the last at least 100 ms apart, open the breaker for
	// BreakerCooldown: Get, Set and Delete then fail at once with
	// ErrUnavailable and Fetch calls the loader without touching Redis;
	// then one call probes Redis and closes the breaker when it succeeds.
	// The span keeps one broken connection from opening it: the calls in
	// flight on it fail at once, and rueidis reconnects within
	// milliseconds. 1 opens on any failure. 0 means DefaultBreakerFailures
	// and DefaultBreakerCooldown; a negative BreakerFailures turns the
	// breaker off.
	BreakerFailures int
	BreakerCooldown time.Duration

	// DisableStampedeLock turns cross-process stampede protection off. By
	// default a miss takes a lease on the key (the lock package, lock name
	// lock.NameFor of the value's Redis key, under the "lock" prefix) before
	// calling the loader, so that one process in the fleet loads while the
	// others wait for the value; this costs one more round trip per miss
	// (GET, acquire, then store and release in one script). With it off, a
	// miss costs two round trips (GET, SET) and every process may load.
	DisableStampedeLock bool

	// StampedeLease is how long a miss's lease survives its process: the
	// lease is extended while the load runs, so this only bounds how long
	// other processes wait after the loading process dies before one of them
	// loads instead. 0 means lock.DefaultValidity (5 s).
	StampedeLease time.Duration

	// Observer is told about hits, misses, loads and errors. nil means none.
	Observer Observer
}

// settings are validated Options with the defaults filled in.
type settings[T any] struct {
	ttl, staleTTL, negativeTTL time.Duration
	jitter, beta               float64
	codec                      codec.Codec[T]
	maxLocalEntries            int
	maxLocalBytes              int64
	disableLocal               bool
	clone                      func(T) T
	maxValueBytes              int
	loadTimeout                time.Duration
	redisTimeout               time.Duration
	breakerFailures            int
	breakerCooldown            time.Duration
	observer                   Observer
	disableStampedeLock        bool
	stampedeLease              time.Duration
}

func (o *Options[T]) validate() (settings[T], error) {
	s := settings[T]{
		ttl: o.TTL, staleTTL: o.StaleTTL, negativeTTL: o.NegativeTTL,
		jitter: o.Jitter, beta: o.EarlyRefreshBeta, codec: o.Codec,
		maxLocalEntries: o.MaxLocalEntries, maxLocalBytes: o.MaxLocalBytes,
		disableLocal: o.DisableLocal, clone: o.Clone, maxValueBytes: o.MaxValueBytes,
		loadTimeout: o.LoadTimeout, redisTimeout: o.RedisTimeout, breakerFailures: o.BreakerFailures,
		breakerCooldown: o.BreakerCooldown, observer: o.Observer, disableStampedeLock: o.DisableStampedeLock,
		stampedeLease: o.StampedeLease,
	}
	switch {
	case o.TTL <= 0:
		return s, fmt.Errorf("cache: Options.TTL must be > 0, got %v", o.TTL)
	case o.StaleTTL < 0:
		return s, fmt.Errorf("cache: Options.StaleTTL must be >= 0, got %v", o.StaleTTL)
	case o.TTL+o.StaleTTL > MaxTTL || o.TTL > MaxTTL:
		return s, fmt.Errorf("cache: Options.TTL + Options.StaleTTL must be <= %v, got %v", MaxTTL, o.TTL+o.StaleTTL)
	case o.NegativeTTL > MaxTTL:
		return s, fmt.Errorf("cache: Options.NegativeTTL must be <= %v, got %v", MaxTTL, o.NegativeTTL)
	case !(o.Jitter <= 0.5) || math.IsInf(o.Jitter, -1): // !(<=) also rejects NaN
		return s, fmt.Errorf("cache: Options.Jitter must be a finite number <= 0.5, got %v", o.Jitter)
	case math.IsNaN(o.EarlyRefreshBeta) || math.IsInf(o.EarlyRefreshBeta, 0):
		return s, fmt.Errorf("cache: Options.EarlyRefreshBeta must be a finite number, got %v", o.EarlyRefreshBeta)
	case o.MaxLocalEntries < 0:
		return s, fmt.Errorf("cache: Options.MaxLocalEntries must be >= 0, got %d", o.MaxLocalEntries)
	case o.MaxLocalBytes < 0:
		return s, fmt.Errorf("cache: Options.MaxLocalBytes must be >= 0, got %d", o.MaxLocalBytes)
	case o.MaxValueBytes < 0:
		return s, fmt.Errorf("cache: Options.MaxValueBytes must be >= 0, got %d", o.MaxValueBytes)
	case o.LoadTimeout < 0:
		return s, fmt.Errorf("cache: Options.LoadTimeout must be >= 0, got %v", o.LoadTimeout)
	case o.StampedeLease < 0:
		return s, fmt.Errorf("cache: Options.StampedeLease must be >= 0, got %v", o.StampedeLease)
	case o.BreakerCooldown < 0:
		return s, fmt.Errorf("cache: Options.BreakerCooldown must be >= 0, got %v", o.BreakerCooldown)
	}
	orDefault(&s.negativeTTL, DefaultNegativeTTL)
	orDefault(&s.maxLocalEntries, DefaultMaxLocalEntries)
	orDefault(&s.maxLocalBytes, DefaultMaxLocalBytes)
	orDefault(&s.maxValueBytes, DefaultMaxValueBytes)
	orDefault(&s.loadTimeout, DefaultLoadTimeout)
	orDefault(&s.redisTimeout, DefaultRedisTimeout)
	orDefault(&s.breakerFailures, DefaultBreakerFailures)
	orDefault(&s.breakerCooldown, DefaultBreakerCooldown)
	orDefault(&s.codec, codec.MsgPack[T]())
	// Jitter and EarlyRefreshBeta: 0 is the default, negative turns them off.
	orDefault(&s.jitter, DefaultJitter)
	orDefault(&s.beta, DefaultEarlyRefreshBeta)
	s.jitter, s.beta = max(s.jitter, 0), max(s.beta, 0)
	orDefault(&s.observer, Observer(NoopObserver{}))
	return s, nil
}

// orDefault sets *v to def when it holds the zero value.
func orDefault[V comparable](v *V, def V) {
	var zero V
	if *v == zero {
		*v = def
	}
}

// A SetOption changes one Set or Put call.
type SetOption func(*setConfig)

type setConfig struct{ ttl time.Duration }

// WithTTL stores the value for d instead of Options.TTL (jitter and the stale
// window still apply). d must be > 0 and at most MaxTTL.
func WithTTL(d time.Duration) SetOption {
	return func(c *setConfig) { c.ttl = d }
}

func (s *settings[T]) setConfig(opts []SetOption) (setConfig, error) {
	c := setConfig{ttl: s.ttl}
	for _, o := range opts {
		o(&c)
	}
	if c.ttl <= 0 || c.ttl+s.staleTTL > MaxTTL {
		return c, fmt.Errorf("cache: WithTTL must be in (0, %v], got %v", MaxTTL-s.staleTTL, c.ttl)
	}
	return c, nil
}

// Errors returned by a Cache. Errors from Redis and from the codec are
// wrapped with the key.
var (
	// ErrNotFound reports a key that is absent: never stored, expired,
	// deleted, or cached as absent after a loader returned ErrNotFound.
	// Loaders return it (or an error wrapping it) to say a key does not exist.
	ErrNotFound = errors.New("cache: not found")

	// ErrStale accompanies a value past its TTL, returned by Fetch inside the
	// stale window because the loader failed. The error also wraps the
	// loader's error.
	ErrStale = errors.New("cache: stale value")

	// ErrUnavailable reports that Redis is considered down (the breaker is
	// open); it is returned at once, without a round trip.
	ErrUnavailable = errors.New("cache: redis unavailable")

	// ErrClosed reports a call on a closed Cache.
	ErrClosed = errors.New("cache: closed")

	// ErrInvalidKey reports an empty key.
	ErrInvalidKey = errors.New("cache: invalid key")

	// ErrTooLarge reports a value whose encoding exceeds Options.MaxValueBytes.
	ErrTooLarge = errors.New("cache: value too large")
)
