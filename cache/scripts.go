package cache

import "github.com/typecache/typecache/internal/rediscmd"

// The keys of one cache key K live in the cache's key space (see New):
//
//	cache:<name>:{K}   the value: a layout byte (0xD0, or'ed with the
//	                   envelope's flags), the version (6 bytes) and the
//	                   generation it was written in (4 bytes, see below),
//	                   then the rest of the envelope (see envelope.go)
//	cache:<name>:l{K}  the key's guard, while it has one: the mark "v<ticks>"
//	                   of a delete, or of a write whose value expires sooner
//	                   than writeMarkWindow, kept that long; or a load lease:
//	                   "t" and 16 hex digits (the token), then the mark it
//	                   replaced, if any
//
// Both share K's slot, so every script below but the generation's touches
// one slot. One more key holds the cache's generation (see Clear):
//
//	cache:<name>:g{}   the generation: 13 digits, no expiry
//
// A value's version is the Redis time of the write that stored it, in
// ticks of 16 µs (6 bytes hold them until the year 2112), raised above the
// key's last write mark, so versions and marks of one key only grow.
// Readers use it to keep the newer of two replies that raced into the
// local tier.
//
// A generation is a Redis time in milliseconds (see nextGenerationLua). A
// value holds its generation as the distance below its version's
// millisecond, plus 2²⁰ ms, in 4 bytes (see generationAt in envelope.go
// for the clamps at both ends and why they are safe): g = ⌊v·16/1000⌋ +
// 2²⁰ − stored, computed alike by the scripts and the Go side, exactly in
// a Lua double.
//
// A key's write mark is the newer of its value's version and the mark in
// its guard: a write that stores a value leaves its mark in the value
// alone (no guard key) unless the value expires sooner than
// writeMarkWindow, and a delete leaves its mark in the guard. While a value
// is stored its version is its key's mark, so a reader learns the mark
// with the value, and a key costs Redis one key between loads and writes.
//
// The guard orders loads against writes, as memcache's leases do: a load
// stores only while its lease is still the guard, and every write replaces
// or removes the guard, so no load that began before a write completed
// can store after it. A lease keeps the mark it replaced and puts it back
// when it ends: so a Put that noted a key's mark before it wrote the source
// of truth learns, at its cache update, whether any other write of the key
// came in between (see writeScript), and a load in between does not count
// as one unless it stored.
//
// The generation orders values against Clear. In a cluster the generation
// key lives in a slot of its own, so the scripts of a key cannot read it:
// each process keeps the generation it last read (tracked, so that a Clear
// anywhere tells it) and passes it to the scripts. A value is served only
// to readers whose generation is not newer than the value's; a load tags
// its value with the generation of the read that took its lease, so a load
// that began before a Clear never stores into the generation after it.

// stampsLua defines stamps(s): the version and the generation in the
// header of s, a stored value, or nil for both when s is something else.
const stampsLua = `
local function stamps(s)
  if #s < 11 then return nil, nil end
  local b = string.byte(s, 1)
  if b < 208 or b > 223 then return nil, nil end
  local v, below = struct.unpack('>I6I4', s, 2)
  return v, math.floor(v * 16 / 1000) + 1048576 - below
end
`

// markLua defines guard_mark(g): the mark in the guard g, a number (0 for
// none); mark_text(m): mark m as clients see it ("v" and digits, or "" for
// 0; the 15-byte layout's marks were "w" and µs, which are no marks here);
// last_mark(g, version): the key's write mark as text, from its guard g
// and its value's version (nil: none); holds(token): whether the guard is
// token's lease.
const markLua = `
local function guard_mark(g)
  local m = g and string.match(g, 'v(%d+)$')
  return m and tonumber(m) or 0
end
local function mark_text(m)
  if m == 0 then return '' end
  return 'v' .. string.format('%.0f', m)
end
local function last_mark(g, version)
  return mark_text(math.max(version or 0, guard_mark(g)))
end
local function holds(token)
  local g = redis.call('GET', KEYS[2])
  return g and string.sub(g, 1, #token) == token, g
end
`

// guardLua defines, after stampsLua (which it needs), markLua's functions,
// now_ticks(): the Redis time in ticks of 16 µs, and old(now): the stamps of
// the value under KEYS[1], now being now_ticks(): nil for stamps more than
// an hour ahead of it, which no Cache wrote (bytes of someone else's that
// happen to look like a header must neither refuse a store as if they were
// of a newer generation nor push versions out of range); end_lease(g, ms):
// put back the mark the caller's lease replaced (for ms milliseconds), or
// remove the guard; next_mark(g, version, now): a mark above the key's last;
// store(value, ttl, gen, version, g, ms, now): store the value of a write or
// a load, as the caller encoded it, then its version and generation in its
// header (in place: building a Lua string of the value would cost Redis more
// than the rest of the script for values of some kilobytes), with its mark
// (see above).
//
// Lua builds a closure each time a script runs a function's definition, so
// readScript, the most frequent script, and extendScript define only what
// they use, and readScript serves a hit before it defines anything but
// stamps (see there).
const guardLua = markLua + rediscmd.TimeLua + `
local function now_ticks() return math.floor(server_us() / 16) end
local function old(now)
  local s = redis.pcall('GETRANGE', KEYS[1], 0, 10)
  if type(s) ~= 'string' then return nil, nil end
  local v, g = stamps(s)
  if v and (v > now + 225e6 or g > math.floor(now * 16 / 1000) + 3600e3) then return nil, nil end
  return v, g
end
local function end_lease(g, ms)
  local m = last_mark(g)
  if m == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], m, 'PX', ms) end
end
local function next_mark(g, version, now)
  local m = now
  local last = math.max(version or 0, guard_mark(g))
  if last >= m then m = last + 1 end
  return m
end
local function store(value, ttl, gen, version, g, ms, now)
  local v = next_mark(g, version, now)
  local below = math.min(math.max(math.floor(v * 16 / 1000) + 1048576 - gen, 0), 4294967295)
  redis.call('SET', KEYS[1], value, 'PX', ttl)
  redis.call('SETRANGE', KEYS[1], 1, struct.pack('>I6I4', v, below))
  if tonumber(ttl) < tonumber(ms) then
    redis.call('SET', KEYS[2], mark_text(v), 'PX', ms)
  elseif g then
    redis.call('DEL', KEYS[2])
  end
end
`

// readScript reads a value with its PTTL and, on a miss, takes the key's
// load lease for a caller that can load. ARGV: mode ("get": read only;
// "load": lease on a miss; "refresh": lease even when the value exists),
// token, lease ms, the caller's generation, and optionally "1" (split):
// read only the value's header, and leave the value to a GET that the
// caller sends after the script in the same transaction (see splitReads).
// A value of an older generation is a miss. Replies:
//
//	{0, value, pttl}       a hit (not for "refresh"); value "" when split
//	{1}                    a miss (mode "get")
//	{2}                    the lease is the caller's
//	{3, pttl of the lease} another caller holds the lease
//
// A hit does not read the guard: the value's version is its key's write
// mark. Taking a lease is idempotent: a lease that already holds the
// caller's token is the caller's (its read ran before, and the reply was
// lost or the call was sent again). Bytes of another Redis type under the
// value's key are an error for "get" and a miss otherwise, which the load
// then overwrites. Bytes that were not written by a Cache go to the
// caller, which reports them as undecodable.
//
// A hit returns before the script defines markLua's functions, and a lease
// defines only those, not all of guardLua's: with every function defined
// first, the closures cost a hit about 15% more of Redis's time (INFO
// commandstats on the benchmarks' machine: 3.75 against 3.2 µs a call,
// where a script that only calls GET and PTTL takes 2.7).
var readScript = rediscmd.NewScript(stampsLua + `
local mode = ARGV[1]
local split = ARGV[5] == '1'
if mode ~= 'refresh' then
  local v
  if split then
    v = redis.pcall('GETRANGE', KEYS[1], 0, 10)
    if v == '' and redis.call('EXISTS', KEYS[1]) == 0 then v = false end
  else
    v = redis.pcall('GET', KEYS[1])
  end
  if type(v) == 'table' and v.err then
    if mode == 'get' then return v end
    v = false
  end
  if v then
    local _, gen = stamps(v)
    if gen and gen < tonumber(ARGV[4]) then v = false end
  end
  if v then
    if split then v = '' end
    return {0, v, redis.call('PTTL', KEYS[1])}
  end
  if mode == 'get' then return {1} end
end
` + markLua + `
local mine, guard = holds(ARGV[2])
if guard and not mine and string.sub(guard, 1, 1) == 't' then
  return {3, redis.call('PTTL', KEYS[2])}
end
redis.call('SET', KEYS[2], ARGV[2] .. last_mark(guard), 'PX', ARGV[3])
return {2}
`)

// storeScript stores a loaded value if the caller still holds the lease,
// and ends the lease. ARGV: token, value (its stamps 0), ttl ms, mark ms,
// the generation of the read that took the lease. Replies 1 when stored,
// 0 when a write or another load took the guard meanwhile, or the key
// holds a value of a newer generation (a refresh that began before a
// Clear). A stored load moves the key's mark as a write does: a Put that
// noted the mark before the load read the source may be older than what
// it stored.
var storeScript = rediscmd.NewScript(stampsLua + guardLua + `
local mine, guard = holds(ARGV[1])
if not mine then return 0 end
local gen = tonumber(ARGV[5])
local now = now_ticks()
local version, old_gen = old(now)
if old_gen and old_gen > gen then
  end_lease(guard, ARGV[4])
  return 0
end
store(ARGV[2], ARGV[3], gen, version, guard, ARGV[4], now)
return 1
`)

// releaseScript ends a lease without storing, if the caller holds it.
// ARGV: token, mark ms.
var releaseScript = rediscmd.NewScript(stampsLua + guardLua + `
local mine, guard = holds(ARGV[1])
if mine then end_lease(guard, ARGV[2]) end
return 0
`)

// extendScript extends a lease the caller holds. ARGV: token, lease ms.
// Replies 1, or 0 when the lease is no longer the caller's.
var extendScript = rediscmd.NewScript(markLua + `
if not holds(ARGV[1]) then return 0 end
return redis.call('PEXPIRE', KEYS[2], ARGV[2])
`)

// markScript returns a key's write mark ("v" and digits, or "" for none),
// for a Put whose local tier does not hold the key.
var markScript = rediscmd.NewScript(stampsLua + guardLua + `
local version = old(now_ticks())
return last_mark(redis.call('GET', KEYS[2]), version)
`)

// writeScript is every write: Set, Put's cache update, Delete. ARGV: op
// ("set" or "del"), value (its stamps 0; empty for "del"), ttl ms, the
// mark the key had when a Put began ("*" for Set and Delete: no check), mark ms, the
// caller's generation. It stores (or deletes) and moves the key's mark
// (see above), which ends any load's lease. The mark is the Redis time in
// ticks, raised above the key's last, so that no two writes of a key leave
// the same one.
//
// A Put passes the mark it read before it wrote the source of truth: if
// the key's mark is another one now, another write of the key came in
// between, which may have written the source after this Put and reached
// Redis first. The order of the two in the source is unknown, so the Put
// deletes the value instead of storing it, and the next read loads from
// the source. Replies 1 when such a conflict turned a store into a delete.
//
// The value is tagged with the caller's generation, or the replaced value's
// when that is newer: a process that has not heard of a Clear yet writes in
// the generation before it, but never hides a value written after it.
var writeScript = rediscmd.NewScript(stampsLua + guardLua + `
local op = ARGV[1]
local guard = redis.call('GET', KEYS[2])
local now = now_ticks()
local version, old_gen = old(now)
local conflict = 0
if op == 'set' and ARGV[4] ~= '*' and last_mark(guard, version) ~= ARGV[4] then conflict = 1 end
if op == 'del' or conflict == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], mark_text(next_mark(guard, version, now)), 'PX', ARGV[5])
else
  local gen = tonumber(ARGV[6])
  if old_gen and old_gen > gen then gen = old_gen end
  store(ARGV[2], ARGV[3], gen, version, guard, ARGV[5], now)
end
return conflict
`)

// generationDigits is the length of a generation as next_generation
// writes it.
const generationDigits = 13

// nextGenerationLua defines next_generation(old): a generation above old
// (a number or nil) and above every generation the key held before it was
// lost: the Redis time in milliseconds plus a second (so that a server
// clock set back by less than that still never repeats one), or old + 1,
// in 13 digits. generation_ms(g): the generation in g, a reply of GET, in
// milliseconds, or nil when g is none. The 15-byte layout's processes
// wrote 16 digits of µs, and replace 13 digits as not theirs: read as
// milliseconds, their generations are kept, so that processes of both
// layouts, during a deploy, do not replace each other's generation on
// every read (each replacement hides every value, as a Clear does).
const nextGenerationLua = rediscmd.TimeLua + `
local function next_generation(old)
  local g = math.floor(server_us() / 1000) + 1000
  if old and old >= g then g = old + 1 end
  return string.format('%013.0f', g)
end
local function generation_ms(g)
  if type(g) ~= 'string' or string.find(g, '%D') then return nil end
  if #g == 13 then return tonumber(g) end
  if #g == 16 then return math.floor(tonumber(g) / 1000) end
  return nil
end
`

// generationScript returns the cache's generation (KEYS[1]), creating it
// when it is missing: never written, evicted, flushed, or lost in a
// failover. A new generation is above every earlier one (see
// next_generation), so a lost generation key never brings back a value
// that a Clear had hidden: it hides every value, as a Clear does. The key
// is created before it is read, so that the caller's read, which Redis
// tracks, is not invalidated by its own creation.
var generationScript = rediscmd.NewScript(nextGenerationLua + `
redis.call('SET', KEYS[1], next_generation(nil), 'NX')
local g = generation_ms(redis.pcall('GET', KEYS[1]))
if g then return string.format('%013.0f', g) end
g = next_generation(nil)
redis.call('SET', KEYS[1], g)
return g
`)

// clearScript moves the cache's generation (KEYS[1]) past the current one.
var clearScript = rediscmd.NewScript(nextGenerationLua + `
local g = next_generation(generation_ms(redis.pcall('GET', KEYS[1])))
redis.call('SET', KEYS[1], g)
return g
`)
