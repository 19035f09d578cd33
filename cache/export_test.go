package cache

// Test hooks, compiled into the test binary only.

// SetAfterRemoteRead makes f run between every remote read and the
// insertion of its result into the local tier.
func (c *Cache[T]) SetAfterRemoteRead(f func(key string)) { c.afterRemoteRead = f }

// SetAdmission makes f decide, read by read, which remote reads go
// tracked, so that their replies may enter the local tier, instead of the
// local tier's doorkeeper (a key's second read within a while).
func (c *Cache[T]) SetAdmission(f func(key string) bool) { c.admission = f }

// SplitAllReads makes every lone read that may split do so, whatever the
// size of the cache's values (see splitReads).
func (c *Cache[T]) SplitAllReads() { c.splitFrom = 0 }

// SetClock replaces the clock (unix nanoseconds). Redis's expiries come from
// the real clock, so a test clock should start at the real time and move
// forward.
func (c *Cache[T]) SetClock(now func() int64) { c.clock = now }

// WaitRefreshes waits for the background refreshes started so far.
func (c *Cache[T]) WaitRefreshes() { c.background.Wait() }

// RedisKey returns the Redis key of key's value.
func (c *Cache[T]) RedisKey(key string) string { return c.space.Key(valueKind, key) }

// RedisGuardKey returns the Redis key of key's lease and write mark.
func (c *Cache[T]) RedisGuardKey(key string) string { return c.space.Key(guardKind, key) }

// SetOnLeaseBusy makes f run when a read finds another caller's load lease,
// before the wait for it.
func (c *Cache[T]) SetOnLeaseBusy(f func(key string)) { c.onLeaseBusy = f }

// RedisGenerationKey returns the Redis key of the cache's generation.
func (c *Cache[T]) RedisGenerationKey() string { return c.generationKey }
