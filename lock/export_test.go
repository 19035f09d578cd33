package lock

import "github.com/redis/rueidis"

// FenceKey returns the Redis key of l's fencing counter.
func FenceKey(l *Lock) string { return l.keys.fence }

// PipelinedOnly makes lk send every lease script by rueidis's pipelined
// path, as before lone round trips took an unshared connection.
func PipelinedOnly(lk *Locker) { lk.alone.Store(true) }

// UseScriptClient makes lk send its lease scripts through c instead of its
// typecache.Client's connections: the prototype of a second, non-caching
// client for scripts.
func UseScriptClient(lk *Locker, c rueidis.Client) { lk.redis = c }
