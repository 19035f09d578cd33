// Package typecache is the root of typecache: typed caches, distributed locks,
// rate limiters and sessions on Redis and Valkey, built on the rueidis client.
//
// The root package owns one thing: the [Client], a rueidis client with an
// invalidation hub. Redis's client-side caching (RESP3 tracking) tells a
// connection when a key it has read changes; the hub fans those messages out
// to the parts of typecache that keep state derived from Redis, such as the
// decoded local tier of package cache and the waiters of package lock.
// Beside it the Client holds a second rueidis client for lone writes whose
// caller waits ([Client.Direct]), and a circuit breaker per Redis node that
// every package consults ([Client.Breaker]).
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
package typecache
