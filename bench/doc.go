// Package bench compares typecache with the libraries people use for the same
// jobs, on the same Redis server and the same ~1 KB value, in one
// `go test -bench . -benchmem` run:
//
//   - BenchmarkLocalHit: a typed hit served from process memory: typecache's
//     decoded local tier, go-redis/cache with its TinyLFU local cache, and
//     rueidis DoCache (client-side caching) followed by a decode.
//   - BenchmarkRemoteHit and BenchmarkMissLoadStore: a hit served by Redis and
//     a miss that calls the loader and stores the result, for the same
//     contenders plus plain go-redis GET/SET.
//   - BenchmarkStoreValue: Redis memory per stored value at 100 B, 1,000 B
//     and 10 KB, beside a plain SET of the same bytes.
//   - BenchmarkReadValue: a read of one stored value at the same sizes,
//     beside a plain GET, every local tier off.
//   - BenchmarkStampede: 4 OS processes × 64 goroutines ask for one cold key
//     whose loader takes 100 ms; it reports loader calls and caller latency.
//   - BenchmarkLock, BenchmarkRateLimit, BenchmarkSessionRequest, the counter
//     and leaderboard workloads: each against its usual peer.
//   - BenchmarkHitRatio: the local tier's hit ratio (internal/tier, the store
//     of every package's local tier) against otter v2's W-TinyLFU, 1M reads
//     over 100k keys at 1k and 10k entries: Zipf 0.8, Zipf 1.0, Zipf 1.0
//     with 20% sequential scans, and a hot set that moves every 200k reads.
//     No Redis involved; run it with -benchtime 1x.
//
// Every workload runs its operations from 1 goroutine and from 64, and
// reports beside ns/op and allocs/op the CPU time per operation of this
// process (client-cpu-µs/op, getrusage) and of the Redis server
// (redis-cpu-µs/op, INFO cpu), and ops/s; with one goroutine also
// round-trips/op, the requests written to Redis per operation.
//
// The module is separate from typecache's so that the competitors never
// become typecache dependencies. It starts its own redis-server through
// internal/testkit/redistest unless REDIS_URL points at one (BenchmarkStoreValue
// always starts one of its own, which it flushes). `make bench` runs the
// suite and prints benchstat tables; `make bench-report` also rewrites
// docs/benchmarks.md and docs/img/benchmarks.svg with cmd/report.
package bench
