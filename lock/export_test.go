package lock

// FenceKey returns the Redis key of l's fencing counter.
func FenceKey(l *Lock) string { return l.keys.fence }
