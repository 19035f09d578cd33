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

func (s *settings) validate() error {
	if s.breakerCooldown < 0 {
		return fmt.Errorf("%w: WithBreaker's cooldown must be >= 0, got %v", ErrInvalidOptions, s.breakerCooldown)
	}
	if s.breakerFailures == 0 {
		s.breakerFailures = DefaultBreakerFailures
	}
	if s.breakerCooldown == 0 {
		s.breakerCooldown = DefaultBreakerCooldown
	}
	return nil
}
