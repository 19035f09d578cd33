// Package typecache is the root of typecache: typed caches, distributed locks,
// rate limiters and sessions on Redis and Valkey, built on the rueidis client.
//
// The root package holds what an application touches: the [Client] that
// every package shares ([NewClient] and its options, such as [WithBreaker];
// [Client.Close]; [Client.Subscribe] for invalidations of keys of your
// own), the breakers' state for operators ([Client.Breaker]), one way to
// send commands of your own past the breakers ([Guard]), and the errors
// every package agrees on: [ErrUnavailable], which every package's
// unavailability error matches, [ErrClosed], [ErrInvalidOptions] and
// [Unreachable].
//
// Behind the Client is one connection to Redis, shared by every package:
// a rueidis client whose reads Redis tracks (RESP3 client-side caching), an
// invalidation hub that fans Redis's invalidation messages out to the parts
// of typecache that keep state derived from Redis (the decoded local tier
// of package cache, the waiters of package lock), a second client for lone
// writes whose caller waits, and a circuit breaker per Redis node that every
// package consults. That plumbing is internal: the packages below reach it,
// applications do not need to.
//
// Everything else lives in its own package:
//
//   - cache: Cache[T], a typed cache-aside/write-through cache with a decoded
//     local tier, negative caching, stale-while-revalidate and stampede protection.
//   - lock: distributed locks with fencing tokens.
//   - ratelimit: exact distributed rate limiters and net/http middleware.
//   - session: typed server-side sessions and net/http middleware.
//   - counter: shared int64 counters, exact, windowed or buffered.
//   - leaderboard: members ranked by score, bounded, with stable ties.
//   - codec: the value encodings all of them share.
//
// A program usually builds one Client and passes it to every package:
//
//	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
//	if err != nil {
//		return err
//	}
//	defer client.Close()
//
// A call refused because Redis is unavailable fails, in every package, with
// an error that matches ErrUnavailable:
//
//	if errors.Is(err, typecache.ErrUnavailable) {
//		// Redis is down: serve a degraded answer
//	}
package typecache
