package ratelimit

import (
	"strconv"
	"time"

	"github.com/typecache/typecache/internal/keyspace"
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
	// 2×Limit can pass around a window's end. The window is the lifetime of
	// its key on Redis's clock, so it counts in whole milliseconds: Period
	// is rounded up to one, and so are its times. The cheapest algorithm:
	// it reads no clock.
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

// FailureMode says what a [Limiter] decides when Redis cannot decide: it
// cannot be reached in time, or it answers that it cannot serve now. The
// zero value is [FailOpen].
type FailureMode int

const (
	// FailOpen admits requests while Redis is unavailable: an outage of the
	// limiter does not become an outage of the service. The default, as in
	// Envoy and Stripe's advice.
	FailOpen FailureMode = iota
	// FailClosed denies requests while Redis is unavailable: for endpoints
	// where an unlimited burst is worse than no service (logins, one-time
	// codes, expensive jobs).
	FailClosed
)

// DefaultPrefix is the instance name used when [Options].Prefix is empty.
const DefaultPrefix = "default"

// defaultLocalDenyCacheSize is the bound of the local deny cache when
// Options.LocalDenyCacheSize is 0.
const defaultLocalDenyCacheSize = 10_000

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
	// Prefix names the limiter: its keys are
	// "ratelimit:<Prefix>:<algorithm>{<key>}", so every process that builds
	// a limiter with the same Prefix and Algorithm shares its counts, and
	// limiters with different Prefixes or Algorithms never touch each
	// other's keys. Give each limit its own Prefix ("login", "api"): two
	// limits with one Prefix and one Algorithm count into the same keys.
	// Letters, digits, '.', '_', '-' and '@', at most 100; empty means
	// DefaultPrefix.
	Prefix string
	// FailureMode decides requests while Redis is unavailable; the zero
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
	// Observer is told about every decision, for metrics and logs; nil
	// means none.
	Observer Observer
}

// validated checks o and returns a copy with the defaults filled in.
func (o Options) validated() (Options, error) {
	switch {
	case o.Algorithm < GCRA || o.Algorithm > FixedWindow:
		return o, invalid("Options.Algorithm must be one of GCRA, SlidingWindowLog, SlidingWindowCounter, FixedWindow, got %d", int(o.Algorithm))
	case o.Limit <= 0:
		return o, invalid("Options.Limit must be > 0, got %d", o.Limit)
	case o.Period <= 0:
		return o, invalid("Options.Period must be > 0, got %s", o.Period)
	case o.Period/time.Duration(o.Limit) < time.Microsecond:
		return o, invalid("Options.Period/Options.Limit must be at least 1µs, got %s/%d", o.Period, o.Limit)
	case o.Burst < 0:
		return o, invalid("Options.Burst must be >= 0, got %d", o.Burst)
	case o.Burst > 0 && o.Algorithm != GCRA:
		return o, invalid("Options.Burst must be 0 with %s (it applies to GCRA only), got %d", o.Algorithm, o.Burst)
	case o.FailureMode != FailOpen && o.FailureMode != FailClosed:
		return o, invalid("Options.FailureMode must be FailOpen or FailClosed, got %d", int(o.FailureMode))
	case o.LocalDenyCacheSize < 0:
		return o, invalid("Options.LocalDenyCacheSize must be >= 0, got %d", o.LocalDenyCacheSize)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := keyspace.CheckName(o.Prefix); err != nil {
		return o, invalid("Options.Prefix %v", err)
	}
	if o.Burst == 0 && o.Algorithm == GCRA {
		o.Burst = o.Limit
	}
	if o.LocalDenyCacheSize == 0 {
		o.LocalDenyCacheSize = defaultLocalDenyCacheSize
	}
	if o.Observer == nil {
		o.Observer = NoopObserver{}
	}
	return o, nil
}
