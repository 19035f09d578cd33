package cache

import "github.com/typecache/typecache/internal/rediscmd"

// The keys of one cache key K live in the cache's key space (see New):
//
//	cache:<name>:{K}   the value: a header (byte 0xC2, then the version
//	                   and the generation it was written in, 7 bytes each,
//	                   big-endian), then the envelope
//	cache:<name>:l{K}  the key's guard: the mark "w<µs>" of the last write,
//	                   kept writeMarkWindow, or a load lease: "t" and 16 hex
//	                   digits (the token), then the mark it replaced, if any
//
// Both share K's slot, so every script below but the generation's touches
// one slot. One more key holds the cache's generation (see Clear):
//
//	cache:<name>:g{}   the generation: 16 digits, no expiry
//
// A value's version is the Redis time in microseconds of the write that
// stored it, raised above the version it replaced, so versions of one key
// only grow. Readers use it to keep the newer of two replies that raced
// into the local tier.
//
// The guard orders loads against writes, as memcache's leases do: a load
// stores only while its lease is still the guard, and every write replaces
// the guard with its mark, so no load that began before a write completed
// can store after it. Marks only grow too, and a lease keeps the mark it
// replaced and puts it back when it ends: so a Put that noted a key's mark
// before it wrote the source of truth learns, at its cache update, whether
// any other write of the key came in between (see writeScript), and a load
// in between does not count as one.
//
// The generation orders values against Clear. In a cluster the generation
// key lives in a slot of its own, so the scripts of a key cannot read it:
// each process keeps the generation it last read (tracked, so that a Clear
// anywhere tells it) and passes it to the scripts. A value is served only
// to readers whose generation is not newer than the value's; a load tags
// its value with the generation of the read that took its lease, so a load
// that began before a Clear never stores into the generation after it.

// guardLua defines stamps(s): the version and the generation in the
// header of s, a stored value, or nil for both when s is something else;
// old(): the stamps of the value under KEYS[1]; mark(g):
// the write mark in the guard g (” for none); holds(token): whether the
// guard is token's lease; end_lease(ms): put back the mark the caller's
// lease replaced (for ms milliseconds), or remove the guard; and
// new_mark(old_mark, ms): leave a new write mark, above old_mark.
const guardLua = rediscmd.TimeLua + `
local function stamps(s)
  if #s < 15 or string.byte(s, 1) ~= 194 then return nil, nil end
  local v, g = struct.unpack('>I7I7', s, 2)
  return v, g
end
local function old()
  local s = redis.pcall('GETRANGE', KEYS[1], 0, 14)
  if type(s) ~= 'string' then return nil, nil end
  return stamps(s)
end
local function mark(g)
  return g and string.match(g, 'w%d+$') or ''
end
local function holds(token)
  local g = redis.call('GET', KEYS[2])
  return g and string.sub(g, 1, #token) == token, g
end
local function end_lease(g, ms)
  local m = mark(g)
  if m == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], m, 'PX', ms) end
end
local function new_mark(old_mark, ms)
  local m = server_us()
  if old_mark ~= '' and tonumber(string.sub(old_mark, 2)) >= m then m = tonumber(string.sub(old_mark, 2)) + 1 end
  redis.call('SET', KEYS[2], 'w' .. string.format('%.0f', m), 'PX', ms)
end
`

// readScript reads a value with its PTTL and the key's write mark and, on
// a miss, takes the key's load lease for a caller that can load. ARGV:
// mode ("get": read only; "load": lease on a miss; "refresh": lease even
// when the value exists), token, lease ms, the caller's generation, "m"
// when the caller keeps the write mark (a local tier does). A value of an
// older generation is a miss. Replies:
//
//	{0, value, pttl[, mark]} a hit (not for "refresh")
//	{1}                    a miss (mode "get")
//	{2}                    the lease is the caller's
//	{3, pttl of the lease} another caller holds the lease
//
// Taking a lease is idempotent: a lease that already holds the caller's
// token is the caller's (its read ran before, and the reply was lost or
// the call was sent again). Bytes of another Redis type under the value's
// key are an error for "get" and a miss otherwise, which the load then
// overwrites. Bytes that were not written by a Cache go to the caller,
// which reports them as undecodable.
var readScript = rediscmd.NewScript(guardLua + `
local mode = ARGV[1]
if mode ~= 'refresh' then
  local v = redis.pcall('GET', KEYS[1])
  if type(v) == 'table' and v.err then
    if mode == 'get' then return v end
    v = false
  end
  if v then
    local _, gen = stamps(v)
    if gen and gen < tonumber(ARGV[4]) then v = false end
  end
  if v and ARGV[5] == 'm' then return {0, v, redis.call('PTTL', KEYS[1]), mark(redis.call('GET', KEYS[2]))} end
  if v then return {0, v, redis.call('PTTL', KEYS[1])} end
  if mode == 'get' then return {1} end
end
local mine, guard = holds(ARGV[2])
if guard and not mine and string.sub(guard, 1, 1) == 't' then
  return {3, redis.call('PTTL', KEYS[2])}
end
local m = mark(guard)
if mine then m = string.sub(guard, #ARGV[2] + 1) end
redis.call('SET', KEYS[2], ARGV[2] .. m, 'PX', ARGV[3])
return {2}
`)

// valueLua defines value(gen, envelope): what a write stores, version
// first. The version is the Redis clock in µs, unless the key already holds
// a newer version.
const valueLua = guardLua + `
local function value(gen, envelope)
  local v = server_us()
  local old_version = old()
  if old_version and old_version >= v then v = old_version + 1 end
  return '\194' .. struct.pack('>I7I7', v, gen) .. envelope
end
`

// storeScript stores a loaded value if the caller still holds the lease,
// and ends the lease. ARGV: token, envelope, ttl ms, mark ms, the
// generation of the read that took the lease. Replies 1 when stored, 0
// when a write or another load took the guard meanwhile, or the key holds
// a value of a newer generation (a refresh that began before a Clear).
var storeScript = rediscmd.NewScript(valueLua + `
local mine, guard = holds(ARGV[1])
if not mine then return 0 end
local gen = tonumber(ARGV[5])
local _, old_gen = old()
local stored = 0
if not old_gen or old_gen <= gen then
  redis.call('SET', KEYS[1], value(gen, ARGV[2]), 'PX', ARGV[3])
  stored = 1
  -- A stored load moves the mark as a write does: a Put that noted the
  -- mark before the load read the source may be older than what it stored.
  new_mark(mark(guard), ARGV[4])
else
  end_lease(guard, ARGV[4])
end
return stored
`)

// releaseScript ends a lease without storing, if the caller holds it.
// ARGV: token, mark ms.
var releaseScript = rediscmd.NewScript(guardLua + `
local mine, guard = holds(ARGV[1])
if mine then end_lease(guard, ARGV[2]) end
return 0
`)

// extendScript extends a lease the caller holds. ARGV: token, lease ms.
// Replies 1, or 0 when the lease is no longer the caller's.
var extendScript = rediscmd.NewScript(guardLua + `
if not holds(ARGV[1]) then return 0 end
return redis.call('PEXPIRE', KEYS[2], ARGV[2])
`)

// writeScript is every write: Set, Put's cache update, Delete. ARGV: op
// ("set" or "del"), envelope, ttl ms, the mark the key had when a Put
// began ("*" for Set and Delete: no check), mark ms, the caller's
// generation. It stores (or deletes), and leaves its mark as the guard,
// which ends any load's lease. The mark is the Redis time in µs, raised
// above the mark it replaces, so that no two writes of a key leave the
// same one.
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
var writeScript = rediscmd.NewScript(valueLua + `
local op = ARGV[1]
local guard = redis.call('GET', KEYS[2])
local old_mark = mark(guard)
local conflict = 0
if op == 'set' and ARGV[4] ~= '*' and old_mark ~= ARGV[4] then conflict = 1 end
if op == 'del' or conflict == 1 then
  redis.call('DEL', KEYS[1])
else
  local gen = tonumber(ARGV[6])
  local _, old_gen = old()
  if old_gen and old_gen > gen then gen = old_gen end
  redis.call('SET', KEYS[1], value(gen, ARGV[2]), 'PX', ARGV[3])
end
new_mark(old_mark, ARGV[5])
return conflict
`)

// nextGenerationLua defines next_generation(old): a generation above old
// (a number or nil) and above every generation the key held before it was
// lost: the Redis time in µs plus a second (so that a server clock set back
// by less than that still never repeats one), or old + 1. valid(g) says
// whether g, a reply of GET, is a generation.
const nextGenerationLua = rediscmd.TimeLua + `
local function next_generation(old)
  local g = server_us() + 1000000
  if old and old >= g then g = old + 1 end
  return string.format('%016.0f', g)
end
local function valid(g)
  return type(g) == 'string' and #g == 16 and not string.find(g, '%D')
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
local g = redis.pcall('GET', KEYS[1])
if valid(g) then return g end
g = next_generation(nil)
redis.call('SET', KEYS[1], g)
return g
`)

// clearScript moves the cache's generation (KEYS[1]) past the current one.
var clearScript = rediscmd.NewScript(nextGenerationLua + `
local g = redis.pcall('GET', KEYS[1])
local old = nil
if valid(g) then old = tonumber(g) end
g = next_generation(old)
redis.call('SET', KEYS[1], g)
return g
`)
