package cache

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/internal/keyspace"
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
	// DefaultMaxConcurrentLoads bounds the loader calls one FetchMany runs
	// at once.
	DefaultMaxConcurrentLoads = 4
	// DefaultStampedeLease is how long a load lease outlives a process that
	// died while loading.
	DefaultStampedeLease = 5 * time.Second

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

	// TTLFunc, when set, gives the TTL of each value that Fetch, FetchMany
	// and Put store, and that Set and SetMany store without WithTTL: say a
	// token until just before it expires, a product longer than a price.
	// It is called with the key and the value just before the store; a
	// result of 0 or less means TTL (jittered, stale window included, as
	// without TTLFunc). A positive result d is a hard expiry: no tier of
	// any process serves the value d after Redis stored it (one network hop
	// after the call). Jitter only shortens d (to between (1−Jitter)·d and
	// d), no stale window follows it (StaleTTL does not apply; XFetch still
	// refreshes hot values before it), a d under 2 ms stores nothing (Set
	// then deletes the key), and a d over MaxTTL is MaxTTL: a result is
	// data (a token's expiry), brought into range, never an error, which
	// would fail the Set or leave a fetched value unstored; a duration
	// passed by the caller (Options.TTL, WithTTL) is checked instead. WithTTL
	// overrides it per call. TTLFunc must be safe for concurrent use;
	// absences (NegativeTTL) do not call it.
	TTLFunc func(key string, v T) time.Duration

	// Version, when set, is part of the cache's Redis key space: a Cache
	// named name with Version v reads and writes only the entries of
	// name@v. Change it when a change of T makes the bytes of the previous
	// version decode wrongly (codecs fill missing fields with zero values
	// and drop unknown ones without an error), so that during a rolling
	// deploy old and new processes never read each other's entries. A new
	// version starts cold. ShapeVersion derives one from T's fields. 1 to
	// 100 letters, digits, '.', '_' or '-' (name@Version at most 100); a
	// cache named "user@3" without Version is the same as "user" with
	// Version "3".
	Version string

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
	// values; the tier evicts (a small queue that new entries pass
	// through, a main queue of entries hit again) when either bound is
	// reached. 0 means DefaultMaxLocalEntries and DefaultMaxLocalBytes.
	// A key enters the tier on its second remote read within a while; the
	// first goes untracked and keeps nothing, so keys read once cost no
	// tracked read (a doorkeeper of 16 bytes per entry of MaxLocalEntries
	// remembers the keys read). DisableLocal turns the tier off: every
	// read goes to Redis.
	MaxLocalEntries int
	MaxLocalBytes   int64
	DisableLocal    bool

	// AdmitFirstRead makes every remote read tracked, so that a key enters
	// the local tier on its first read, as rueidis's DoCache does: one
	// remote read fewer for each key read more than once, for a tracked
	// (slower) cold miss, and a line in Redis's tracking table and
	// invalidation pushes for every key read, once or not. For a small set
	// of keys each read a few times; the default suits key spaces with a
	// long tail.
	AdmitFirstRead bool

	// Clone, when set, is applied to every value the cache returns, so
	// callers may modify what they get. Without it values are shared
	// between callers and must be treated as read-only.
	Clone func(T) T

	// MaxValueBytes rejects values whose encoding is larger, before they are
	// sent. 0 means DefaultMaxValueBytes.
	MaxValueBytes int

	// LoadTimeout bounds a shared load (the loader and the store that
	// follows), which runs apart from the callers' contexts so that one
	// caller giving up does not cancel it for the others. Loads share
	// timers: a load's context ends between LoadTimeout and 1/32 of it
	// later. 0 means DefaultLoadTimeout.
	LoadTimeout time.Duration

	// RedisTimeout bounds each call to Redis when the caller's context has
	// no earlier deadline (rueidis retries reads on a dead connection until
	// the context ends). Fetch and FetchMany also give their read at most
	// half of the time left on the caller's context, so that a stalled
	// Redis leaves the loader the other half. 0 means DefaultRedisTimeout; a
	// negative value leaves calls bounded by the caller's context only.
	RedisTimeout time.Duration

	// DisableStampedeLock stops misses from waiting for a load that another
	// process runs. By default the read that finds a key missing also takes
	// the key's load lease, in the same round trip, so that one process in
	// the fleet loads while the others wait for the value (woken by its
	// invalidation); the store ends the lease: two round trips per cold
	// miss, as for a plain GET and SET. With it set, a process that finds
	// the lease taken loads too, and returns its value without storing it
	// (only the lease holder stores, so a write still beats every load).
	DisableStampedeLock bool

	// StampedeLease is how long a miss's lease survives its process: the
	// lease is extended while the load runs, so this only bounds how long
	// other processes wait after the loading process dies before one of them
	// loads instead. 0 means DefaultStampedeLease.
	StampedeLease time.Duration

	// MaxConcurrentLoads bounds the loader calls that one FetchMany runs at
	// once: its keys are loaded in one LoadMany call, but keys it waited
	// for (another caller's load, whose process died) are loaded in later
	// calls, beside the waits for the others. 0 means
	// DefaultMaxConcurrentLoads.
	MaxConcurrentLoads int

	// Observer is told about hits, misses, loads and errors. nil means none.
	Observer Observer
}

// MinTTL is the shortest TTL a Cache accepts: Redis expires keys in whole
// milliseconds.
const MinTTL = time.Millisecond

// validated returns a copy of o with every default filled in and the
// switches resolved (a negative NegativeTTL, Jitter or EarlyRefreshBeta
// becomes 0: off), or an error wrapping ErrInvalidOptions that names the
// field. The Cache keeps the copy; zero values in it mean "off".
func (o Options[T]) validated() (Options[T], error) {
	fail := func(format string, args ...any) (Options[T], error) { return o, invalid(format, args...) }
	switch {
	case o.TTL < MinTTL:
		return fail("Options.TTL must be at least %v, got %v", MinTTL, o.TTL)
	case o.StaleTTL < 0:
		return fail("Options.StaleTTL must be >= 0, got %v", o.StaleTTL)
	case o.TTL+o.StaleTTL > MaxTTL || o.TTL > MaxTTL:
		return fail("Options.TTL + Options.StaleTTL must be <= %v, got %v", MaxTTL, o.TTL+o.StaleTTL)
	case o.NegativeTTL > MaxTTL:
		return fail("Options.NegativeTTL must be <= %v, got %v", MaxTTL, o.NegativeTTL)
	case o.NegativeTTL > 0 && o.NegativeTTL < MinTTL:
		return fail("Options.NegativeTTL must be at least %v (or negative: off), got %v", MinTTL, o.NegativeTTL)
	case !(o.Jitter <= 0.5) || math.IsInf(o.Jitter, -1): // !(<=) also rejects NaN
		return fail("Options.Jitter must be a finite number <= 0.5, got %v", o.Jitter)
	case math.IsNaN(o.EarlyRefreshBeta) || math.IsInf(o.EarlyRefreshBeta, 0):
		return fail("Options.EarlyRefreshBeta must be a finite number, got %v", o.EarlyRefreshBeta)
	case o.MaxLocalEntries < 0:
		return fail("Options.MaxLocalEntries must be >= 0, got %d", o.MaxLocalEntries)
	case o.MaxLocalBytes < 0:
		return fail("Options.MaxLocalBytes must be >= 0, got %d", o.MaxLocalBytes)
	case o.MaxValueBytes < 0:
		return fail("Options.MaxValueBytes must be >= 0, got %d", o.MaxValueBytes)
	case o.MaxConcurrentLoads < 0:
		return fail("Options.MaxConcurrentLoads must be >= 0, got %d", o.MaxConcurrentLoads)
	case o.LoadTimeout < 0:
		return fail("Options.LoadTimeout must be >= 0, got %v", o.LoadTimeout)
	case o.StampedeLease < 0 || (o.StampedeLease > 0 && o.StampedeLease < 10*time.Millisecond):
		return fail("Options.StampedeLease must be 0 (the default) or at least 10ms, got %v", o.StampedeLease)
	case o.Version != "" && (strings.Contains(o.Version, "@") || keyspace.CheckName(o.Version) != nil):
		return fail("Options.Version must be empty or 1 to %d letters, digits, '.', '_' or '-', got %q", keyspace.MaxNameLen, o.Version)
	}
	orDefault(&o.NegativeTTL, DefaultNegativeTTL)
	orDefault(&o.MaxLocalEntries, DefaultMaxLocalEntries)
	orDefault(&o.MaxLocalBytes, DefaultMaxLocalBytes)
	orDefault(&o.MaxValueBytes, DefaultMaxValueBytes)
	orDefault(&o.LoadTimeout, DefaultLoadTimeout)
	orDefault(&o.RedisTimeout, DefaultRedisTimeout)
	orDefault(&o.StampedeLease, DefaultStampedeLease)
	orDefault(&o.MaxConcurrentLoads, DefaultMaxConcurrentLoads)
	if o.Codec == nil {
		o.Codec = codec.MsgPack[T]()
	}
	if o.Observer == nil {
		o.Observer = NoopObserver{}
	}
	// Jitter and EarlyRefreshBeta: 0 is the default, negative turns them off.
	orDefault(&o.Jitter, DefaultJitter)
	orDefault(&o.EarlyRefreshBeta, DefaultEarlyRefreshBeta)
	o.Jitter, o.EarlyRefreshBeta, o.NegativeTTL = max(o.Jitter, 0), max(o.EarlyRefreshBeta, 0), max(o.NegativeTTL, 0)
	return o, nil
}

// orDefault sets *v to def when it holds the zero value.
func orDefault[V comparable](v *V, def V) {
	var zero V
	if *v == zero {
		*v = def
	}
}

// A SetOption changes one Set, SetMany or Put call.
type SetOption func(*setConfig)

type setConfig struct {
	ttl     time.Duration
	withTTL bool // ttl was given: Options.TTLFunc does not apply
}

// WithTTL stores the value for d instead of Options.TTL or Options.TTLFunc's
// (jitter and the stale window still apply, as for Options.TTL). d must be
// at least MinTTL and, with the stale window, at most MaxTTL: like
// Options.TTL, and unlike a TTLFunc's result, d is the caller's argument,
// so the call fails with ErrInvalidArgument, writing nothing, rather than
// store for another duration than the one asked.
func WithTTL(d time.Duration) SetOption {
	return func(c *setConfig) { c.ttl, c.withTTL = d, true }
}

func (o *Options[T]) setConfig(opts []SetOption) (setConfig, error) {
	c := setConfig{ttl: o.TTL}
	for _, opt := range opts {
		if opt == nil {
			return c, fmt.Errorf("%w: nil SetOption", ErrInvalidArgument)
		}
		opt(&c)
	}
	if c.ttl < MinTTL || c.ttl+o.StaleTTL > MaxTTL {
		return c, fmt.Errorf("%w: WithTTL must be in [%v, %v], got %v", ErrInvalidArgument, MinTTL, MaxTTL-o.StaleTTL, c.ttl)
	}
	return c, nil
}

// keyError is the error of an operation on a key: "cache: <op> "<key>": ",
// what happened when it says more than the cause, and the cause once (its
// own "cache: " prefix and key are not repeated).
type keyError struct {
	op, key, what string
	err           error
}

func keyErr(op, key string, err error) error { return &keyError{op: op, key: key, err: err} }

func (e *keyError) Error() string {
	msg := "cache: " + e.op + " " + strconv.Quote(e.key) + ": "
	if e.what != "" {
		msg += e.what + ": "
	}
	cause := e.err
	var inner *keyError
	if errors.As(cause, &inner) && inner.key == e.key && inner.what == "" {
		cause = inner.err // "cache: put "k": cache: set "k": …" says the key twice
	}
	return msg + strings.TrimPrefix(cause.Error(), "cache: ")
}

func (e *keyError) Unwrap() error { return e.err }
