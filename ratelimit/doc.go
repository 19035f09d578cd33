// Package ratelimit limits how often something identified by a key may
// happen, counting in Redis so that every process sharing the deployment
// shares the limit.
//
// A [Limiter] makes each decision in one round trip: one Lua script per
// algorithm, run with EVALSHA, reading the time from Redis TIME inside the
// script, so the clocks of the application servers never matter. Results are
// durations (RetryAfter, ResetAfter), never timestamps.
//
//	limiter, err := ratelimit.New(client, ratelimit.Options{Limit: 100, Period: time.Minute, Prefix: "api"})
//	...
//	res, err := limiter.Allow(ctx, "user:42")
//	if err == nil && !res.Allowed {
//		// tell the caller to come back in res.RetryAfter
//	}
//
// # Algorithms
//
// [GCRA] (the default) is a token bucket: Limit per Period on average and
// Burst requests at once (Burst 0 means Limit). [SlidingWindowLog] is exact:
// never more than Limit in any interval of length Period, at O(Limit) memory
// per key. [SlidingWindowCounter] is O(1) and approximate: at most Limit in
// each period-aligned window, and at most 2×Limit in any interval of length
// Period in the worst case (exact when the previous window's requests were
// evenly spread). [FixedWindow] admits Limit per window opened by a key's
// first request; up to 2×Limit pass around a window's end.
//
// # Guarantees
//
//   - Denied requests consume nothing, with every algorithm: a client that
//     keeps retrying while denied gets its full quota back on schedule.
//   - Under concurrency from any number of processes, no algorithm admits
//     more than its bound: the script is atomic.
//   - A cost larger than the Burst (GCRA) or Limit can never pass: AllowN
//     returns ErrCostExceedsLimit instead of a retry time.
//   - Keys expire on their own once their state no longer matters.
//   - Keys are "ratelimit:<Prefix>:<algorithm>{<key>}": the hash tag is the
//     whole identifier, so keys spread across cluster slots, and limiters
//     with different prefixes or algorithms never share a key.
//   - When Redis is unavailable (unreachable, or replying that it cannot
//     serve now), the decision follows Options.FailureMode (FailOpen by
//     default) and Result.Source says so; a refused connection fails at
//     once. Any other error reply (WRONGTYPE) is returned as an error, never
//     hidden behind the failure mode. Nothing panics.
//   - Options.Observer is told about every decision.
//
// # HTTP
//
// [Middleware] limits an http.Handler by client IP (or any key), answers
// denied requests with 429 and Retry-After, and sets the RateLimit-Policy and
// RateLimit fields of draft-ietf-httpapi-ratelimit-headers-10 on every
// response. The client's address is the connection's unless
// MiddlewareOptions.ClientIP names the one header your proxies set, which is
// then read only on connections from its TrustedProxies; IPv6 clients are
// counted by /64.
//
// docs/ratelimit.md has the full guide: which algorithm when, burst
// semantics compared with redis_rate and throttled, error bounds, cluster
// notes and measured throughput.
package ratelimit
