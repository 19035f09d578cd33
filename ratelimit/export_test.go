package ratelimit

import "time"

// SetClock makes l use now instead of Redis TIME in its scripts and instead
// of time.Now in its local deny cache.
func SetClock(l *Limiter, now func() time.Time) {
	l.scriptNow = now
	if l.denials != nil {
		l.denials.clock = func() time.Duration { return time.Duration(now().UnixNano()) }
	}
}

// LocalDenyCacheLen returns the number of keys in l's local deny cache.
func LocalDenyCacheLen(l *Limiter) int { return int(l.denials.size.Load()) }
