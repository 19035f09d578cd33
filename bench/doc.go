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
//   - BenchmarkStampede: 4 OS processes × 64 goroutines ask for one cold key
//     whose loader takes 100 ms; it reports loader calls and caller latency.
//   - BenchmarkRateLimit: decisions per second, one key and 10k keys.
//   - BenchmarkSession: session Create and Get against scs with its Redis store.
//
// The module is separate from typecache's so that the competitors never
// become typecache dependencies. It starts its own redis-server through
// internal/testkit/redistest unless REDIS_URL points at one. `make bench` runs the
// suite and prints benchstat tables; `make bench-report` also rewrites
// docs/benchmarks.md and docs/img/benchmarks.svg with cmd/report.
package bench
