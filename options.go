package typecache

import (
	"errors"
	"fmt"
	"time"
)

const (
	// DefaultBreakerFailures is how many Redis failures in a row open a
	// node's breaker (see [WithBreaker]).
	DefaultBreakerFailures = 5
	// DefaultBreakerCooldown is how long an open breaker waits between its
	// probes of the node (see [WithBreaker]).
	DefaultBreakerCooldown = time.Second

	// DefaultReplyPoll is the reply poll's window when [WithReplyPoll] is
	// not given: on, since the adaptive poll won on latency and won or tied
	// on processor time per op with one caller, and tied on both with 64,
	// in two runs (see WithReplyPoll).
	DefaultReplyPoll = 50 * time.Microsecond
)

// DefaultTopologyInterval is the ClusterOption.ShardsRefreshInterval NewClient
// sets when the caller left it zero: how often rueidis rescans the cluster's
// slots. A cluster Client also asks the cluster which master serves each
// slot (CLUSTER SLOTS) four times per interval, and flushes its subscribers
// as soon as one answer differs from the last: a client sees a failover or
// a moved slot at most a quarter interval (250 ms by default) plus one round
// trip after the node it asks has learned of it.
const DefaultTopologyInterval = time.Second

var (
	// ErrInvalidOptions is wrapped by the error NewClient returns for an
	// invalid [Option]; the message names it.
	ErrInvalidOptions = errors.New("typecache: invalid options")

	// ErrUnavailable is matched, with errors.Is, by every package's error
	// for a call refused because Redis is unavailable (the breaker of the
	// key's node is open): cache.ErrUnavailable, lock.ErrUnavailable,
	// ratelimit.ErrUnavailable, session.ErrUnavailable,
	// counter.ErrUnavailable and leaderboard.ErrUnavailable all match it,
	// so that one check serves every package.
	ErrUnavailable = errors.New("typecache: redis unavailable")

	// ErrClosed is matched, with errors.Is, by the error of a call made
	// through a [Client] after its Close, where the root package answers
	// it ([Guard]).
	ErrClosed = errors.New("typecache: client closed")
)

// An Option configures what a [Client] adds to its rueidis client.
type Option func(*settings)

type settings struct {
	breakerFailures int
	breakerCooldown time.Duration
	replyPoll       time.Duration
	replyPollSet    bool // WithReplyPoll was given: 0 is off, not the default
}

// WithBreaker sets when the Client's breakers open and how often an open one
// probes its node (see [Breaker]): after failures Redis failures with no
// success in between, the first and the last at least 100 ms apart (1
// opens on any failure), or after any two failures a second apart with no
// success in between; and every cooldown. Zero values mean
// [DefaultBreakerFailures] and [DefaultBreakerCooldown]; a negative failures
// turns the breakers off, so that every call goes to Redis and waits for
// its own deadline.
func WithBreaker(failures int, cooldown time.Duration) Option {
	return func(s *settings) { s.breakerFailures, s.breakerCooldown = failures, cooldown }
}

// maxReplyPoll is the longest window WithReplyPoll accepts: waking a
// parked goroutine costs tens of microseconds, so a reply that takes
// longer than this is better waited for parked.
const maxReplyPoll = time.Millisecond

// WithReplyPoll sets the reply poll of the lone calls whose reply nothing
// keeps in memory, which go through the client's direct connections while
// few calls are out (the lock's scripts, session writes that keep nothing,
// the cache's lone writes and its reads without a local tier, the rate
// limiter's decisions, the counter's and the leaderboard's calls): a
// caller polls its connection's socket for the reply for up to window,
// yielding the processor between polls, before it parks in the runtime's
// network poller. 0 turns the poll off; the default is
// [DefaultReplyPoll], 50 µs.
//
// The poll trades processor time for latency, and adapts so that it polls
// only where that can pay: a read polls only while the calls awaiting
// replies on the client's direct connections are no more than the
// processors left for them (GOMAXPROCS less one), so with many concurrent
// callers, whose processors have other work than spinning, no read polls
// and the client behaves as with the poll off; and a connection whose
// replies keep missing the window (a distant Redis, a loaded machine)
// polls ever more rarely, one read in up to 1,024, until as many polls
// find their reply in time. On this project's 2-core virtual machine, a
// lock Acquire+Release against a Redis on the same host took 27–30 % less
// time with one caller (89.7 and 110 µs against 128 and 151) for up to
// 15 % less client CPU per op, and tied on both with 64 callers, in two
// runs of make bench (docs/benchmarks.md has the latest); a cache's remote
// hit, whose script keeps Redis busy longer, spent 11–29 % more client CPU
// with one caller for up to 15 % less time. The win comes from being
// woken by the reply rather than by the scheduler, so it depends on the
// machine: turn the poll off (WithReplyPoll(0)) where processor time is
// billed more dearly than latency, or measure with your workload.
//
// A window below 0 or above a millisecond is invalid.
func WithReplyPoll(window time.Duration) Option {
	return func(s *settings) { s.replyPoll, s.replyPollSet = window, true }
}

func (s *settings) validate() error {
	if s.breakerCooldown < 0 {
		return fmt.Errorf("%w: WithBreaker's cooldown must be >= 0, got %v", ErrInvalidOptions, s.breakerCooldown)
	}
	if s.replyPoll < 0 || s.replyPoll > maxReplyPoll {
		return fmt.Errorf("%w: WithReplyPoll's window must be within [0, %v], got %v", ErrInvalidOptions, maxReplyPoll, s.replyPoll)
	}
	if !s.replyPollSet {
		s.replyPoll = DefaultReplyPoll
	}
	if s.breakerFailures == 0 {
		s.breakerFailures = DefaultBreakerFailures
	}
	if s.breakerCooldown == 0 {
		s.breakerCooldown = DefaultBreakerCooldown
	}
	return nil
}
