package cache

import "github.com/typecache/typecache/internal/rediscmd"

// The keys of one cache key K live in the cache's key space (see New):
//
//	cache:<name>:{K}   the value: a 16-digit version, then the envelope
//	cache:<name>:l{K}  the key's guard: a load lease "t<token>", or the
//	                   mark "w<µs>" of the last write, kept writeMarkWindow
//
// Both share K's slot, so every script below touches one slot.
//
// A value's version is the Redis time in microseconds of the write that
// stored it, raised above the version it replaced, so versions of one key
// only grow. Readers use it to keep the newer of two replies that raced
// into the local tier.
//
// The guard orders loads against writes, as memcache's leases do: a load
// stores only while its lease is still the guard, and every write replaces
// the guard with its mark, so no load that began before a write completed
// can store after it. A Put compares the marks of other writes with its own
// start, to learn whether a concurrent write may have reached the source of
// truth after its own (see writeScript).

// versionLua defines version(): the version of a value written now. The
// caller's Redis clock in µs, unless the key already holds a newer version.
const versionLua = `
local function version()
  local t = redis.call('TIME')
  local v = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local old = redis.pcall('GETRANGE', KEYS[1], 0, 15)
  old = type(old) == 'string' and tonumber(old)
  if old and old >= v then v = old + 1 end
  return v
end
`

// readScript reads a value with its PTTL and, on a miss, takes the key's
// load lease for a caller that can load. ARGV: mode ("get": read only;
// "load": lease on a miss; "refresh": lease even when the value exists),
// token, lease ms. Replies:
//
//	{0, value, pttl}       a hit (not for "refresh")
//	{1}                    a miss (mode "get")
//	{2}                    the lease is the caller's
//	{3, pttl of the lease} another caller holds the lease
//
// Bytes of another Redis type under the value's key are an error for "get"
// and a miss otherwise, which the load then overwrites.
var readScript = rediscmd.NewScript(`
local mode = ARGV[1]
if mode ~= 'refresh' then
  local v = redis.pcall('GET', KEYS[1])
  if type(v) == 'table' and v.err then
    if mode == 'get' then return v end
    v = false
  end
  if v then return {0, v, redis.call('PTTL', KEYS[1])} end
  if mode == 'get' then return {1} end
end
local guard = redis.call('GET', KEYS[2])
if guard and string.sub(guard, 1, 1) == 't' then
  return {3, redis.call('PTTL', KEYS[2])}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {2}
`)

// markLua defines mark(ms): leave the mark of a write made now as the
// guard, for ms milliseconds.
const markLua = `
local function mark(ms)
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], 'w' .. string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2])), 'PX', ms)
end
`

// storeScript stores a loaded value if the caller still holds the lease,
// and ends the lease. ARGV: token, envelope, ttl ms, mark ms. Replies 1
// when stored, 0 when a write or another load took the guard meanwhile.
//
// The lease may have replaced the mark of a write, which a Put that began
// before that write still needs to see; so a lease ends in a mark of its
// own (a store is a write), never in an empty guard.
var storeScript = rediscmd.NewScript(versionLua + markLua + `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], string.format('%016.0f', version()) .. ARGV[2], 'PX', ARGV[3])
mark(ARGV[4])
return 1
`)

// releaseScript ends a lease without storing, leaving a mark (see
// storeScript). ARGV: token, mark ms.
var releaseScript = rediscmd.NewScript(markLua + `
if redis.call('GET', KEYS[2]) == ARGV[1] then mark(ARGV[2]) end
return 0
`)

// extendScript extends a lease the caller holds. ARGV: token, lease ms.
// Replies 1, or 0 when the lease is no longer the caller's.
var extendScript = rediscmd.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[2], ARGV[2])
`)

// writeScript is every write: Set, Put's cache update, Delete. ARGV: op
// ("set" or "del"), envelope, ttl ms, the window in µs within which another
// write's mark means a conflict (-1: never), mark ms. It stores (or
// deletes), and leaves its mark as the guard, which ends any load's lease.
//
// A Put passes the time since it began, before it wrote the source of
// truth: another write whose mark is that recent may have written the
// source after this one and reached Redis first, and a load's lease may
// belong to a load that read the source after this Put's write. Either way
// the order of the two in the source is unknown, so the Put deletes the
// value instead of storing it, and the next read loads from the source.
// Replies 1 when a conflict turned a store into a delete.
var writeScript = rediscmd.NewScript(versionLua + markLua + `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local op, window = ARGV[1], tonumber(ARGV[4])
local conflict = 0
if op == 'set' and window >= 0 then
  local guard = redis.call('GET', KEYS[2])
  if guard and (string.sub(guard, 1, 1) == 't' or tonumber(string.sub(guard, 2)) >= now - window) then
    conflict = 1
  end
end
if op == 'del' or conflict == 1 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%016.0f', version()) .. ARGV[2], 'PX', ARGV[3])
end
mark(ARGV[5])
return conflict
`)
