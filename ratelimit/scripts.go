package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/rediscmd"
)

// Every script takes KEYS[1] = the key's state. The scripts that need the
// time take ARGV = {the clock (rediscmd.ClockArg), cost, two per-limiter
// constants} and read it once, from Redis TIME unless a test supplies it;
// the fixed window needs no clock (its window is its key's lifetime) and
// takes {cost, limit, period in ms}. All times in replies are integer
// microseconds: doubles hold them exactly for the next few centuries, and
// fmt writes them back without Lua's exponent notation.
//
// A denied request consumes nothing, in every script: it writes nothing,
// except that the sliding log drops the members that left its window
// whatever the decision.
//
// What a decision costs in Redis is mostly a fixed price per command the
// script calls and per value it converts, so the scripts call as few
// commands as their algorithm allows and reply with one integer where they
// can (a table reply costs Redis about as much as a command). With m the
// largest cost plus one:
//
//   - allowed: reset after µs × m + remaining, an integer ≥ 0;
//   - denied, where the limiter can work out the retry time from the reset
//     time (fixedWindowScript, gcraScript): −(reset × m + remaining) − 1;
//   - otherwise, or when the packed integer would reach 2⁵³ (past which
//     doubles are not exact): {remaining, reset} when allowed,
//     {remaining, retry after µs, reset} when denied.
//
// A cost of '1', by far the most common, is compared rather than parsed:
// Lua interns strings, so the comparison is a pointer test, and tonumber is
// among the dearest things a script does.

// gcraScript stores the theoretical arrival time (TAT) of the next request.
// ARGV[3] is the emission interval (Period/Limit) and ARGV[4] the tolerance
// (interval × burst): a request is allowed when the new TAT is at most the
// tolerance ahead of now, so burst requests pass at once on an idle key. A
// denied request's retry time is reset + cost × interval − tolerance.
var gcraScript = rueidis.NewLuaScript(rediscmd.ClockLua + `
local now = now_us()
local cost = ARGV[2] == '1' and 1 or tonumber(ARGV[2])
local interval, tolerance = tonumber(ARGV[3]), tonumber(ARGV[4])
local m = tolerance / interval + 1
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local ahead = tat + cost * interval - now
if ahead > tolerance then
  local remaining = math.max(0, math.floor((tolerance - (tat - now)) / interval))
  local packed = (tat - now) * m + remaining
  if packed < 9007199254740992 then return -packed - 1 end
  return {remaining, ahead - tolerance, tat - now}
end
redis.call('SET', KEYS[1], fmt(now + ahead), 'PX', math.ceil(ahead / 1000))
local remaining = math.floor((tolerance - ahead) / interval)
local packed = ahead * m + remaining
if packed < 9007199254740992 then return packed end
return {remaining, ahead}
`)

// slidingLogScript keeps one sorted-set member per admitted cost unit, scored
// by its time; members older than the period are dropped first. ARGV[3] is
// the limit, ARGV[4] the period.
//
// A request of cost 1 adds the member "<time>", unless a request of the same
// microsecond took it (ZADD then adds nothing). Other members are
// "<time>-<n>" with n counting on from the set's size, so the requests of one
// microsecond get distinct members: while the clock stands still the set
// only grows. Only after the clock went back can such a name be taken
// already (with its own time as score, so ZADD adds fewer members than
// asked); the loop then tries further numbers.
var slidingLogScript = rueidis.NewLuaScript(rediscmd.ClockLua + `
local now = now_us()
local cost = ARGV[2] == '1' and 1 or tonumber(ARGV[2])
local limit, period = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now - period))
local count = redis.call('ZCARD', KEYS[1])
if count + cost > limit then
  local k = count + cost - limit - 1
  local blocking = redis.call('ZRANGE', KEYS[1], k, k, 'WITHSCORES')
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  return {math.max(0, limit - count), tonumber(blocking[2]) + period - now, tonumber(newest[2]) + period - now}
end
local stamp = fmt(now)
local added, n = 0, count
if cost == 1 then added = redis.call('ZADD', KEYS[1], stamp, stamp) end
while added < cost do
  local members = {}
  for i = 1, math.min(cost - added, 500) do
    members[2 * i - 1] = stamp
    members[2 * i] = stamp .. '-' .. fmt(n)
    n = n + 1
  end
  added = added + redis.call('ZADD', KEYS[1], unpack(members))
end
redis.call('PEXPIRE', KEYS[1], math.ceil(period / 1000))
local packed = period * (limit + 1) + limit - count - cost
if packed < 9007199254740992 then return packed end
return {limit - count - cost, period}
`)

// slidingCounterScript keeps the counts of the current and the previous fixed
// window (aligned to multiples of the period) in one hash and estimates the
// sliding count as prev×(period−elapsed)/period + curr. The comparison is
// scaled by the period so it stays in integers. ARGV[3] is the limit, ARGV[4]
// the period. The key expires at the end of the window after the one it was
// last rolled into: only a request that opens a window sets the expiry, the
// others of the window just count.
var slidingCounterScript = rueidis.NewLuaScript(rediscmd.ClockLua + `
local now = now_us()
local cost = ARGV[2] == '1' and 1 or tonumber(ARGV[2])
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
  return {math.max(0, math.floor((capacity - used) / period)), retry, reset}
end
if last == window then
  redis.call('HINCRBY', KEYS[1], 'c', cost)
else
  redis.call('HSET', KEYS[1], 'w', fmt(window), 'c', cost, 'p', prev)
  redis.call('PEXPIRE', KEYS[1], math.ceil((2 * period - elapsed) / 1000))
end
local remaining, reset = math.floor((capacity - used) / period) - cost, 2 * period - elapsed
local packed = reset * (limit + 1) + remaining
if packed < 9007199254740992 then return packed end
return {remaining, reset}
`)

// fixedWindowScript counts in a string key that lives as long as its
// window: the request that finds no key opens the window, setting the count
// and the period as the key's expiry, and the window closes when Redis
// expires the key. So it reads Redis's clock through the expiry, in whole
// milliseconds, without TIME: GET, then INCRBY and PTTL, or SET ... PX for
// the first request. A key without an expiry (written by something else) is
// given one, so that it cannot deny for ever. A denied request's retry time
// is its reset time.
var fixedWindowScript = rueidis.NewLuaScript(`
local cost = ARGV[1] == '1' and 1 or tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local count = tonumber(redis.call('GET', KEYS[1]))
local ttl
if count then
  ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    ttl = tonumber(ARGV[3])
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
else
  ttl = tonumber(ARGV[3])
end
local reset = ttl * 1000
if (count or 0) + cost > limit then
  local remaining = math.max(0, limit - count)
  local packed = reset * (limit + 1) + remaining
  if packed < 9007199254740992 then return -packed - 1 end
  return {remaining, reset, reset}
end
if count then
  redis.call('INCRBY', KEYS[1], cost)
else
  count = 0
  redis.call('SET', KEYS[1], cost, 'PX', ttl)
end
local packed = reset * (limit + 1) + limit - count - cost
if packed < 9007199254740992 then return packed end
return {limit - count - cost, reset}
`)

// algorithm is what a Limiter runs for its Options.Algorithm.
type algorithm struct {
	kind    string // the key kind: limiters of different algorithms never share keys
	script  *rueidis.Lua
	args    [2]string // the per-limiter constants, the script's last two arguments
	clocked bool      // whether the script reads the time (its ARGV[1] is the clock)
	maxCost int       // the largest cost a request may have
	// retry returns, for a denial of cost n replied as one integer, its
	// retry time from its reset time (µs).
	retry func(reset int64, n int) int64
}

// algorithmOf returns the algorithm of o, a validated Options. The kinds are
// distinct and none is a prefix of another.
func algorithmOf(o Options) algorithm {
	periodUS := o.Period.Microseconds()
	window := [2]string{strconv.Itoa(o.Limit), strconv.FormatInt(periodUS, 10)}
	switch o.Algorithm {
	case SlidingWindowLog:
		return algorithm{kind: "log", script: slidingLogScript, args: window, clocked: true, maxCost: o.Limit}
	case SlidingWindowCounter:
		return algorithm{kind: "counter", script: slidingCounterScript, args: window, clocked: true, maxCost: o.Limit}
	case FixedWindow:
		periodMS := (o.Period + time.Millisecond - 1) / time.Millisecond
		args := [2]string{strconv.Itoa(o.Limit), strconv.FormatInt(int64(periodMS), 10)}
		retry := func(reset int64, _ int) int64 { return reset }
		return algorithm{kind: "fixed", script: fixedWindowScript, args: args, maxCost: o.Limit, retry: retry}
	}
	interval := periodUS / int64(o.Limit)
	tolerance := interval * int64(o.Burst)
	retry := func(reset int64, n int) int64 { return reset + int64(n)*interval - tolerance }
	args := [2]string{strconv.FormatInt(interval, 10), strconv.FormatInt(tolerance, 10)}
	return algorithm{kind: "gcra", script: gcraScript, args: args, clocked: true, maxCost: o.Burst, retry: retry}
}

// decide runs the limiter's script for a request of cost n: one round trip.
func (l *Limiter) decide(ctx context.Context, key string, n int) (Result, error) {
	args := []string{rediscmd.ClockArg(l.now), strconv.Itoa(n), l.algo.args[0], l.algo.args[1]}
	if !l.algo.clocked {
		args = args[1:]
	}
	reply, err := l.algo.script.Exec(ctx, l.redis, []string{l.redisKey(key)}, args).ToMessage()
	if err != nil {
		return Result{}, err
	}
	if reply.IsInt64() {
		packed, _ := reply.AsInt64()
		return l.unpack(packed, n), nil
	}
	return l.decodeTable(reply)
}

// unpack decodes a decision replied as one integer (see the scripts).
func (l *Limiter) unpack(packed int64, n int) Result {
	m := int64(l.algo.maxCost) + 1
	res := Result{Allowed: packed >= 0, Limit: l.algo.maxCost}
	if !res.Allowed {
		packed = -packed - 1
	}
	reset := packed / m
	res.Remaining = int(packed % m)
	res.ResetAfter = time.Duration(reset) * time.Microsecond
	if !res.Allowed {
		res.RetryAfter = time.Duration(l.algo.retry(reset, n)) * time.Microsecond
	}
	return res
}

// decodeTable decodes a decision replied as {remaining, reset} (allowed) or
// {remaining, retry, reset} (denied).
func (l *Limiter) decodeTable(reply rueidis.RedisMessage) (Result, error) {
	values, err := reply.ToArray()
	if err != nil {
		return Result{}, fmt.Errorf("script reply: %w", err)
	}
	if len(values) != 2 && len(values) != 3 {
		return Result{}, fmt.Errorf("script replied %d values, want 2 or 3", len(values))
	}
	var v [3]int64
	for i := range values {
		if v[i], err = values[i].AsInt64(); err != nil {
			return Result{}, fmt.Errorf("script reply: %w", err)
		}
	}
	res := Result{Allowed: len(values) == 2, Limit: l.algo.maxCost, Remaining: max(0, int(v[0]))} // negative after Limit was lowered under a used key
	if res.Allowed {
		res.ResetAfter = time.Duration(v[1]) * time.Microsecond
	} else {
		res.RetryAfter = time.Duration(v[1]) * time.Microsecond
		res.ResetAfter = time.Duration(v[2]) * time.Microsecond
	}
	return res, nil
}
