package counter

import "time"

// SetClock makes w pick windows with now instead of time.Now.
func SetClock(w *Windowed, now func() time.Time) { w.now = now }

// SetFlushSendingHook makes b call hook when a flush has taken its batch and
// is about to send it.
func SetFlushSendingHook(b *Buffered, hook func()) { b.hooks.flushSending = hook }

// SetGetReadingHook makes b's Get call hook after it read the pending delta
// and before it reads Redis.
func SetGetReadingHook(b *Buffered, hook func()) { b.hooks.getReading = hook }

// RedisKey returns the Redis key of key's counter.
func RedisKey(c *Counter, key string) string { return c.redisKey(key) }

// Prefix returns the text every Redis key of c's name starts with.
func Prefix(c *Counter) string { return c.space.Prefix() }

// WindowedPrefix returns the text every Redis key of w's name starts with.
func WindowedPrefix(w *Windowed) string { return w.space.Prefix() }
