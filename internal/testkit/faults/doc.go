// Package faults is typecache's fault-injection suite: it drives the cache,
// lock, ratelimit, session and codec packages against real redis-server
// processes while it kills connections, stalls, restarts, fails over, fills
// and flushes them, and checks every answer against a source of truth.
//
// The package has no API: its tests are the product. `go test -race
// ./internal/testkit/faults/` runs the quick version (every scenario, bounded);
// FAULTS_FULL=1 (`make faults`) runs the long one, with a 60 s soak.
// Each scenario logs its measured figures as lines starting with "FIGURE";
// docs/operations.md tabulates them from a real run.
package faults
