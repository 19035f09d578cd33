// Package redistest starts real redis-server (or valkey-server) processes for
// typecache's tests: a standalone server and a three-master cluster, each on
// free loopback ports, in a temporary directory, with persistence off. The
// processes are started by internal/testserver, which the public package
// typecachetest (the test server for users' tests) shares.
//
// Most tests share one server of each kind per test binary, started on first
// use and stopped by [Main]; [Run] runs a test body on both. Tests that stop,
// pause or restart servers start private ones with [NewStandalone] and
// [NewCluster], which t.Cleanup stops by their own PIDs.
//
// TYPECACHE_SERVER picks the server binary, by name on PATH or by path;
// `make test` runs the suite once with redis-server, once with
// valkey-server.
//
// REDIS_URL and REDIS_CLUSTER_URL point the shared servers at existing
// deployments instead (rueidis URL syntax, e.g. redis://127.0.0.1:6379).
//
// A missing server binary fails the test with the command that installs it;
// it is never a skip.
package redistest
