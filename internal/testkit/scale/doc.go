// Package scale is typecache's fleet-scale test: many OS processes, each
// with its own typecache.Client and cache.Cache, read and write one
// three-master cluster, and the harness measures what a fleet costs and
// what it sees — throughput, local-hit ratio, invalidation fan-out,
// staleness after a write, Redis CPU and memory, tracking-table size and
// client CPU per operation — once with Redis's default tracking table,
// once with tracking-table-max-keys lowered so that Redis evicts tracking
// entries, and once with every process tracking in BCAST mode under the
// caches' key space.
//
// The package has no API: its test is the product. `go test
// ./internal/testkit/scale/` runs a small smoke version (2 processes,
// seconds); `make scale` runs 8, 32 and 64 processes and writes the figures
// to internal/testkit/scale/figures.txt. Whatever the size, every run checks two
// guarantees of the cache: at most one load of a key runs at a time in the
// whole fleet, and no read returns a value older than a write that
// completed more than a second before the read began.
package scale
