package ratelimit

import "time"

// SetClock makes l use now instead of Redis TIME in its scripts and instead
// of time.Now in its local deny cache.
func SetClock(l *Limiter, now func() time.Time) {
	l.now = now
	if l.denials != nil {
		l.denials.clock = func() time.Duration { return time.Duration(now().UnixNano()) }
	}
}

// LocalDenyCacheLen returns the number of keys in l's local deny cache.
func LocalDenyCacheLen(l *Limiter) int { return int(l.denials.size.Load()) }

// RedisKey returns the Redis key l keeps key's state under.
func RedisKey(l *Limiter, key string) string { return l.redisKey(key) }

// Unavailable reports whether AllowN takes err, a failed script call, for
// Redis being unavailable.
var Unavailable = unavailable
