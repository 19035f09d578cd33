package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/rediscmd"
)

// Every script takes KEYS[1] = the key's state and ARGV = {two per-limiter
// constants, the cost, the clock}. The cost is left out when it is 1, by far
// the most common, and the clock (rediscmd.ClockArg, microseconds) is only
// given by tests: in production a decision sends two or three arguments, and
// the scripts that need the time read it once from Redis TIME. The fixed
// window needs no clock (its window is its key's lifetime). Times in replies
// are integer microseconds, except the fixed window's milliseconds: doubles
// hold them exactly for the next few centuries.
//
// A denied request consumes nothing, in every script: it writes nothing,
// except that the sliding log drops the members that left its window
// whatever the decision.
//
// What a decision costs in Redis is mostly a fixed price per command the
// script calls and per value it converts, so the scripts call as few
// commands as their algorithm allows, reply with one integer where they can
// (a table reply costs Redis about as much as a command), convert strings to
// numbers by arithmetic (tonumber costs twice as much) and numbers to strings
// only by handing them to redis.call. With m the largest cost plus one:
//
//   - allowed: reset after µs × m + remaining, an integer ≥ 0;
//   - denied, where the limiter can work out the retry time from the reset
//     time (gcraScript): −(reset × m + remaining) − 1;
//   - denied with nothing remaining (every denial of a cost of 1) in the
//     sliding windows, whose retry time is at most 2 × period (R = 2 ×
//     period µs + 1): −(reset × R + retry) − 1;
//   - otherwise, or when the packed integer would reach 2⁵³ (past which
//     doubles are not exact): {remaining, reset} when allowed,
//     {remaining, retry after µs, reset} when denied.
//
// The fixed window packs its own way (see fixedWindowScript).

// gcraScript stores the theoretical arrival time (TAT) of the next request.
// ARGV[1] is the emission interval (Period/Limit) and ARGV[2] the tolerance
// (interval × burst): a request is allowed when the new TAT is at most the
// tolerance ahead of now, so burst requests pass at once on an idle key. A
// denied request's retry time is reset + cost × interval − tolerance.
var gcraScript = rediscmd.NewScript(rediscmd.NowLua("ARGV[4]") + `
local interval, tolerance = ARGV[1] + 0, ARGV[2] + 0
local cost = ARGV[3] and ARGV[3] + 0 or 1
local m = tolerance / interval + 1
local tat = redis.call('GET', KEYS[1])
tat = tat and tat - now_us or 0
if tat < 0 then tat = 0 end
local ahead = tat + cost * interval
if ahead > tolerance then
  local remaining = math.max(0, math.floor((tolerance - tat) / interval))
  local packed = tat * m + remaining
  if packed < 9007199254740992 then return -packed - 1 end
  return {remaining, ahead - tolerance, tat}
end
redis.call('SET', KEYS[1], now_us + ahead, 'PX', math.ceil(ahead / 1000))
local remaining = math.floor((tolerance - ahead) / interval)
local packed = ahead * m + remaining
if packed < 9007199254740992 then return packed end
return {remaining, ahead}
`)

// slidingLogScript keeps one sorted-set member per admitted cost unit, scored
// by its time; members older than the period are dropped first. ARGV[1] is
// the limit, ARGV[2] the period.
//
// A request of cost 1 adds the member "<time>", unless a request of the same
// microsecond took it (ZADD then adds nothing). Other members are
// "<time>-<n>" with n counting on from the set's size, so the requests of one
// microsecond get distinct members: while the clock stands still the set
// only grows. Only after the clock went back can such a name be taken
// already (with its own time as score, so ZADD adds fewer members than
// asked); the loop then tries further numbers.
//
// Redis formats every number a script hands it, and every score it replies,
// with printf (about 2.8k instructions each, the largest cost after the
// calls themselves), so the script hands it strings where it has them: the
// ranks a denial reads ('0' and '-1' for a cost of 1), the expiry in ms cut
// from ARGV[2] when the period is whole milliseconds, and the members'
// times read from their names ("<time>" is the score's own digits), not
// WITHSCORES; only a "<time>-<n>" member needs a ZSCORE.
var slidingLogScript = rediscmd.NewScript(rediscmd.NowLua("ARGV[4]") + `
local limit, period = ARGV[1] + 0, ARGV[2] + 0
local cost = ARGV[3] and ARGV[3] + 0 or 1
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_us - period)
local count = redis.call('ZCARD', KEYS[1])
if count + cost > limit then
  local k = count + cost - limit - 1
  if k == 0 then k = '0' end
  local blocking = redis.call('ZRANGE', KEYS[1], k, k)[1]
  local newest = redis.call('ZRANGE', KEYS[1], '-1', '-1')[1]
  blocking = tonumber(blocking) or redis.call('ZSCORE', KEYS[1], blocking)
  newest = tonumber(newest) or redis.call('ZSCORE', KEYS[1], newest)
  local remaining, retry, reset = math.max(0, limit - count), blocking + period - now_us, newest + period - now_us
  local r = 2 * period + 1
  if remaining == 0 and retry >= 0 and retry < r and reset >= 0 and reset * r < 9007199254740992 - r then
    return -(reset * r + retry) - 1
  end
  return {remaining, retry, reset}
end
local stamp = string.format('%.0f', now_us)
local added, n = 0, count
if cost == 1 then added = redis.call('ZADD', KEYS[1], stamp, stamp) end
while added < cost do
  local members = {}
  for i = 1, math.min(cost - added, 500) do
    members[2 * i - 1] = stamp
    members[2 * i] = stamp .. '-' .. n
    n = n + 1
  end
  added = added + redis.call('ZADD', KEYS[1], unpack(members))
end
redis.call('PEXPIRE', KEYS[1], period % 1000 == 0 and string.sub(ARGV[2], 1, -4) or math.ceil(period / 1000))
local packed = period * (limit + 1) + limit - count - cost
if packed < 9007199254740992 then return packed end
return {limit - count - cost, period}
`)

// slidingCounterScript keeps the counts of the current and the previous fixed
// window (aligned to multiples of the period) in one hash and estimates the
// sliding count as prev×(period−elapsed)/period + curr. The comparison is
// scaled by the period so it stays in integers. ARGV[1] is the limit, ARGV[2]
// the period. The key expires at the end of the window after the one it was
// last rolled into: only a request that opens a window sets the expiry, the
// others of the window just count.
//
// The hash has two fields: w, the window, and n = prev × (limit + 1) + curr,
// so that a request of the current window is one HINCRBY of n, and reading
// the state one HMGET of two fields. Where (limit + 1)² reaches 2⁵³ (past
// which n would not be exact) n is curr alone and a third field p holds
// prev.
var slidingCounterScript = rediscmd.NewScript(rediscmd.NowLua("ARGV[4]") + `
local limit, period = ARGV[1] + 0, ARGV[2] + 0
local cost = ARGV[3] and ARGV[3] + 0 or 1
local m = limit + 1
local split = m * m >= 9007199254740992
local state = redis.call('HMGET', KEYS[1], 'w', 'n')
local last, curr, prev = state[1], 0, 0
if last then
  last = last + 0
  curr = (state[2] or 0) + 0
  if split then
    prev = (redis.call('HGET', KEYS[1], 'p') or 0) + 0
  else
    local n = curr
    curr = n % m
    prev = (n - curr) / m
  end
end
local window = math.floor(now_us / period)
if last and last > window then
  -- the clock went back (a failover): stay in the stored window, which
  -- errs on the side of denying
  window = last
end
local elapsed = now_us - window * period
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
  local remaining = math.max(0, math.floor((capacity - used) / period))
  local r = 2 * period + 1
  if remaining == 0 and retry >= 0 and retry < r and reset * r < 9007199254740992 - r then
    return -(reset * r + retry) - 1
  end
  return {remaining, retry, reset}
end
if last == window then
  redis.call('HINCRBY', KEYS[1], 'n', ARGV[3] or '1')
else
  if split then
    redis.call('HSET', KEYS[1], 'w', window, 'n', ARGV[3] or '1', 'p', prev)
  else
    redis.call('HSET', KEYS[1], 'w', window, 'n', prev * m + cost)
  end
  redis.call('PEXPIRE', KEYS[1], math.ceil((2 * period - elapsed) / 1000))
end
local remaining, reset = math.floor((capacity - used) / period) - cost, 2 * period - elapsed
local packed = reset * (limit + 1) + remaining
if packed < 9007199254740992 then return packed end
return {remaining, reset}
`)

// fixedWindowScript keeps the quota left in a string key that lives as long
// as its window: the request that finds no key opens the window, setting
// what is left after it (ARGV[1], Limit − cost) with the period (ARGV[2], in
// ms) as the key's expiry, and the window closes when Redis expires the key.
// So it reads Redis's clock through the expiry, in whole milliseconds,
// without TIME; and counting down lets Redis compare a cost of 1 with the
// string '0' and reply with DECRBY's integer, converting nothing: GET, then
// PTTL and DECRBY, or SET ... PX for the first request. A key without an
// expiry (written by something else) is given one, so that it cannot deny
// for ever.
//
// It replies with the empty string when it opened the window (the limiter
// knows what is left and the period), else with the quota left × 2³² + the
// reset time in ms (negated and minus 1 when denied: the retry time is the
// reset time), or, past 2²¹ left or 2³² ms, a table as the other scripts do.
var fixedWindowScript = rediscmd.NewScript(`
local left = redis.call('GET', KEYS[1])
if not left then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ''
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = ARGV[2] + 0
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local cost = ARGV[3]
if not cost then
  if left == '0' then
    if ttl < 4294967296 then return -ttl - 1 end
    return {0, ttl * 1000, ttl * 1000}
  end
  cost = '1'
elseif left + 0 < cost + 0 then
  left = left + 0
  if left < 2097152 and ttl < 4294967296 then return -(left * 4294967296 + ttl) - 1 end
  return {left, ttl * 1000, ttl * 1000}
end
left = redis.call('DECRBY', KEYS[1], cost)
if left < 2097152 and ttl < 4294967296 then return left * 4294967296 + ttl end
return {left, ttl * 1000}
`)

// algorithm is what a Limiter runs for its Options.Algorithm.
type algorithm struct {
	kind    string // the key kind: limiters of different algorithms never share keys
	script  *rediscmd.Script
	args    [2]string // the script's first two arguments, for a cost of 1
	clocked bool      // whether the script reads the time (its ARGV[4] is a test's clock)
	maxCost int       // the largest cost a request may have
	// costArgs returns the first two arguments for a cost of n > 1.
	costArgs func(n int) [2]string
	// unpack decodes a decision of cost n replied as one integer.
	unpack func(packed int64, n int) Result
	// opened is the decision of cost n that the fixed window replies with
	// an empty string: it opened the window.
	opened func(n int) Result
}

// algorithmOf returns the algorithm of o, a validated Options. The kinds are
// distinct and none is a prefix of another.
func algorithmOf(o Options) algorithm {
	periodUS := o.Period.Microseconds()
	window := [2]string{strconv.Itoa(o.Limit), strconv.FormatInt(periodUS, 10)}
	same := func(int) [2]string { return window }
	switch o.Algorithm {
	case SlidingWindowLog:
		return algorithm{kind: "log", script: slidingLogScript, args: window, costArgs: same, clocked: true, maxCost: o.Limit, unpack: slidingUnpacker(o.Limit, periodUS)}
	case SlidingWindowCounter:
		// "counts", not the "counter" of the releases that kept curr and
		// prev in fields of their own: during a rolling upgrade neither
		// version reads the other's hash as its own.
		return algorithm{kind: "counts", script: slidingCounterScript, args: window, costArgs: same, clocked: true, maxCost: o.Limit, unpack: slidingUnpacker(o.Limit, periodUS)}
	case FixedWindow:
		return fixedWindow(o)
	}
	interval := periodUS / int64(o.Limit)
	tolerance := interval * int64(o.Burst)
	args := [2]string{strconv.FormatInt(interval, 10), strconv.FormatInt(tolerance, 10)}
	retry := func(reset int64, n int) int64 { return reset + int64(n)*interval - tolerance }
	return algorithm{kind: "gcra", script: gcraScript, args: args, costArgs: func(int) [2]string { return args }, clocked: true, maxCost: o.Burst, unpack: unpacker(o.Burst, retry)}
}

// fixedWindow is the algorithm of a validated Options of FixedWindow. Its
// key holds the quota left, so its kind is "quota", not the "fixed" of the
// releases that counted up: during a rolling upgrade neither version reads
// the other's count as its own.
func fixedWindow(o Options) algorithm {
	periodMS := int64((o.Period + time.Millisecond - 1) / time.Millisecond)
	period := strconv.FormatInt(periodMS, 10)
	limit := o.Limit
	return algorithm{
		kind: "quota", script: fixedWindowScript, maxCost: limit,
		args:     [2]string{strconv.Itoa(limit - 1), period},
		costArgs: func(n int) [2]string { return [2]string{strconv.Itoa(limit - n), period} },
		unpack: func(packed int64, _ int) Result {
			res := Result{Allowed: packed >= 0, Limit: limit}
			if !res.Allowed {
				packed = -packed - 1
			}
			res.Remaining = int(packed >> 32)
			res.ResetAfter = time.Duration(packed&(1<<32-1)) * time.Millisecond
			if !res.Allowed {
				res.RetryAfter = res.ResetAfter
			}
			return res
		},
		opened: func(n int) Result {
			return Result{Allowed: true, Limit: limit, Remaining: limit - n, ResetAfter: time.Duration(periodMS) * time.Millisecond}
		},
	}
}

// unpacker returns the decoder of decisions packed as reset (µs) × m +
// remaining, m = maxCost + 1; retry gives a denial's retry time from its
// reset time (nil: the script never packs a denial).
func unpacker(maxCost int, retry func(reset int64, n int) int64) func(packed int64, n int) Result {
	m := int64(maxCost) + 1
	return func(packed int64, n int) Result {
		res := Result{Allowed: packed >= 0, Limit: maxCost}
		if !res.Allowed {
			packed = -packed - 1
		}
		reset := packed / m
		res.Remaining = int(packed % m)
		res.ResetAfter = time.Duration(reset) * time.Microsecond
		if !res.Allowed {
			res.RetryAfter = time.Duration(retry(reset, n)) * time.Microsecond
		}
		return res
	}
}

// slidingUnpacker returns the decoder of the sliding windows' decisions:
// allowed ones packed as unpacker's, denied ones (with nothing remaining) as
// reset × R + retry, R = 2 × period µs + 1.
func slidingUnpacker(limit int, periodUS int64) func(packed int64, n int) Result {
	allowed := unpacker(limit, nil)
	r := 2*periodUS + 1
	return func(packed int64, n int) Result {
		if packed >= 0 {
			return allowed(packed, n)
		}
		packed = -packed - 1
		return Result{Limit: limit, RetryAfter: time.Duration(packed%r) * time.Microsecond, ResetAfter: time.Duration(packed/r) * time.Microsecond}
	}
}

// decide runs the limiter's script for a request of cost n: one round trip,
// the only one of a decision.
func (l *Limiter) decide(ctx context.Context, key string, n int) (Result, error) {
	var argv [4]string
	args := argv[:2]
	argv[0], argv[1] = l.algo.args[0], l.algo.args[1]
	clock := l.now != nil && l.algo.clocked
	if n != 1 || clock {
		first := l.algo.costArgs(n)
		argv[0], argv[1], argv[2] = first[0], first[1], strconv.Itoa(n)
		args = argv[:3]
	}
	if clock {
		argv[3] = rediscmd.ClockArg(l.now)
		args = argv[:4]
	}
	rkey := l.redisKey(key)
	reply, err := l.guard(ctx, rkey, func() (rueidis.RedisMessage, error) {
		return l.algo.script.Exec(ctx, l.redis, l.send, []string{rkey}, args)
	})
	if err != nil {
		return Result{}, err
	}
	if reply.IsInt64() {
		packed, _ := reply.AsInt64()
		return l.algo.unpack(packed, n), nil
	}
	if reply.IsString() && l.algo.opened != nil {
		return l.algo.opened(n), nil
	}
	return l.decodeTable(reply)
}

// guard makes call, one round trip about the Redis key rkey, past the
// client's breaker of its node: while it is open, guard fails at once with
// errCircuitOpen, and once the client is closed, with ErrClosed
// (clientconn.Guard).
func (l *Limiter) guard(ctx context.Context, rkey string, call func() (rueidis.RedisMessage, error)) (rueidis.RedisMessage, error) {
	return clientconn.Guard(ctx, l.conn, rkey, errCircuitOpen, ErrClosed, call)
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
