package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// Every script takes KEYS[1] = the key's state and
// ARGV = {now in µs or "" for Redis TIME, cost, two per-limiter constants},
// and returns {allowed (1/0), remaining, retry after µs, reset after µs}.
// All times are integer microseconds: doubles hold them exactly for the next
// few centuries. Numbers written back to Redis go through
// string.format('%.0f'), since Lua's tostring keeps only 14 digits.
//
// A denied request writes nothing, in every script.

// clockLua starts every script: "now" comes from Redis TIME (effects
// replication, the only mode of Redis 7, makes TIME safe before writes), so
// the clocks of the clients never matter. Tests inject a fixed now instead.
const clockLua = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local cost = tonumber(ARGV[2])
`

// gcraScript stores the theoretical arrival time (TAT) of the next request.
// ARGV[3] is the emission interval (Period/Limit) and ARGV[4] the burst: a
// request is allowed when the new TAT is at most burst×interval ahead of now,
// so burst requests pass at once on an idle key.
var gcraScript = rueidis.NewLuaScript(clockLua + `
local interval = tonumber(ARGV[3])
local tolerance = interval * tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local ahead = tat + cost * interval - now
if ahead > tolerance then
  return {0, math.floor((tolerance - (tat - now)) / interval), ahead - tolerance, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', now + ahead), 'PX', math.ceil(ahead / 1000))
return {1, math.floor((tolerance - ahead) / interval), 0, ahead}
`)

// slidingLogScript keeps one sorted-set member per admitted cost unit, scored
// by its time; members older than the period are dropped first. Members are
// "<time>-<n>", where n counts the members that already have this exact
// time, so requests at the same microsecond never collide (members with one
// score are only ever removed all together). ARGV[3] is the limit, ARGV[4]
// the period.
var slidingLogScript = rueidis.NewLuaScript(clockLua + `
local limit, period = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - period))
local count = redis.call('ZCARD', KEYS[1])
if count + cost > limit then
  local k = count + cost - limit - 1
  local blocking = redis.call('ZRANGE', KEYS[1], k, k, 'WITHSCORES')
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  return {0, limit - count, tonumber(blocking[2]) + period - now, tonumber(newest[2]) + period - now}
end
local stamp = string.format('%.0f', now)
local seq = redis.call('ZCOUNT', KEYS[1], stamp, stamp)
local members = {}
for i = 1, cost do
  members[#members + 1] = stamp
  members[#members + 1] = stamp .. '-' .. string.format('%.0f', seq + i - 1)
  if #members >= 1000 or i == cost then
    redis.call('ZADD', KEYS[1], unpack(members))
    members = {}
  end
end
redis.call('PEXPIRE', KEYS[1], math.ceil(period / 1000))
return {1, limit - count - cost, 0, period}
`)

// slidingCounterScript keeps the counts of the current and the previous fixed
// window (aligned to multiples of the period) in one hash and estimates the
// sliding count as prev×(period−elapsed)/period + curr. The comparison is
// scaled by the period so it stays in integers. ARGV[3] is the limit, ARGV[4]
// the period.
var slidingCounterScript = rueidis.NewLuaScript(clockLua + `
local limit, period = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local last, curr, prev = tonumber(state[1]), tonumber(state[2]) or 0, tonumber(state[3]) or 0
local window = math.floor(now / period)
if last and last > window then
  -- the clock went back (a failover): stay in the stored window, which
  -- errs on the side of denying
  window = last
end
local elapsed = now - window * period
if last == window - 1 then
  prev, curr = curr, 0
elseif last ~= window then
  prev, curr = 0, 0
end
local capacity = limit * period
local used = prev * (period - elapsed) + curr * period
if used + cost * period > capacity then
  local retry
  if curr + cost <= limit then
    -- wait until the previous window's weight has shrunk enough
    retry = period - math.floor((capacity - (curr + cost) * period) / prev) - elapsed
  else
    -- wait for the next window, where this window's count is the weighted one
    retry = period - elapsed + period - math.floor((limit - cost) * period / curr)
  end
  local reset = period - elapsed
  if curr > 0 then reset = reset + period end
  return {0, math.floor((capacity - used) / period), retry, reset}
end
redis.call('HSET', KEYS[1], 'w', string.format('%.0f', window), 'c', curr + cost, 'p', prev)
redis.call('PEXPIRE', KEYS[1], math.ceil((2 * period - elapsed) / 1000))
return {1, math.floor((capacity - used) / period) - cost, 0, 2 * period - elapsed}
`)

// fixedWindowScript counts in a window that opens with the key's first
// request after the previous window closed. The key expires with its window;
// only the request that opens a window sets the expiry. ARGV[3] is the limit,
// ARGV[4] the period.
var fixedWindowScript = rueidis.NewLuaScript(clockLua + `
local limit, period = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 's', 'c')
local start, count = tonumber(state[1]), tonumber(state[2]) or 0
if not start or now >= start + period then
  start, count = now, 0
end
local reset = start + period - now
if count + cost > limit then
  return {0, limit - count, reset, reset}
end
if count == 0 then
  redis.call('HSET', KEYS[1], 's', string.format('%.0f', start), 'c', cost)
  redis.call('PEXPIRE', KEYS[1], math.ceil(period / 1000))
else
  redis.call('HINCRBY', KEYS[1], 'c', cost)
end
return {1, limit - count - cost, 0, reset}
`)

// scriptFor returns the script of o.Algorithm, its two per-limiter
// arguments, and the largest cost a request may have.
func scriptFor(o Options) (script *rueidis.Lua, args [2]string, maxCost int) {
	periodUS := o.Period.Microseconds()
	windowArgs := [2]string{strconv.Itoa(o.Limit), strconv.FormatInt(periodUS, 10)}
	switch o.Algorithm {
	case SlidingWindowLog:
		return slidingLogScript, windowArgs, o.Limit
	case SlidingWindowCounter:
		return slidingCounterScript, windowArgs, o.Limit
	case FixedWindow:
		return fixedWindowScript, windowArgs, o.Limit
	}
	interval := periodUS / int64(o.Limit)
	return gcraScript, [2]string{strconv.FormatInt(interval, 10), strconv.Itoa(o.Burst)}, o.Burst
}

// decide runs the limiter's script for a request of cost n: one round trip.
func (l *Limiter) decide(ctx context.Context, key string, n int) (Result, error) {
	now := ""
	if l.scriptNow != nil {
		now = strconv.FormatInt(l.scriptNow().UnixMicro(), 10)
	}
	args := []string{now, strconv.Itoa(n), l.args[0], l.args[1]}
	reply, err := l.script.Exec(ctx, l.redis, []string{l.redisKey(key)}, args).AsIntSlice()
	if err != nil {
		return Result{}, err
	}
	if len(reply) != 4 {
		return Result{}, fmt.Errorf("unexpected script reply %v", reply)
	}
	return Result{
		Allowed:    reply[0] == 1,
		Limit:      l.maxCost,
		Remaining:  max(0, int(reply[1])), // negative after Limit was lowered under a used key
		RetryAfter: time.Duration(reply[2]) * time.Microsecond,
		ResetAfter: time.Duration(reply[3]) * time.Microsecond,
	}, nil
}
