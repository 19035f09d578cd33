package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/rediscmd"
)

// Every script works on one key, KEYS[1], the hash of a route (see
// record.go), so each runs atomically in one cluster slot. ARGV[1] is the
// clock (rediscmd.ClockArg), ARGV[2] what the script is about (a session
// id, the start of one, or a user ID), ARGV[3] the idle timeout in ms.
//
// parse decodes a meta field (nil for a forward or foreign bytes); pack
// writes one; live returns a session's parsed meta when it exists and
// neither deadline has passed; keep makes the key live at least until a
// deadline, given its TTL (PTTL) read before the script's first write;
// prune deletes ended sessions and forwards and returns how many are left
// (none: the key may be gone, its TTL with it).
//
// The scripts a Store may send tracked (read, save, regenerate:
// see localTier) read the key before their first write, write, and read it
// again after their last write, with no read between two writes: Redis
// then notifies this connection exactly once of the script's own write,
// and tracks the key for it again afterwards.
const luaCommon = rediscmd.ClockLua + luaPrune + `
local function pack(r)
  return r.v .. ' ' .. r.c .. ' ' .. fmt(r.a) .. ' ' .. fmt(r.s) .. ' ' .. r.h .. ' ' .. r.u
end
local function live(key, id, now, idle)
  local r = parse(redis.call('HGET', key, id))
  if r and now < r.a and now < r.s + idle then return r end
  return nil
end
local function keep(key, deadline, now, ttl)
  if ttl < deadline - now then redis.call('PEXPIRE', key, deadline - now) end
end
`

// luaPrune is the part of luaCommon that needs no clock: parse, hdel and
// prune. createScript defines it only when the key exists already, so that
// a new anonymous session's script creates none of these functions.
const luaPrune = `
local function parse(m)
  if not m then return nil end
  local v, c, a, s, h, u = string.match(m, '^(%d+) (%d+) (%d+) (%d+) (%S+) (.*)$')
  if not v then return nil end
  return {v = v, c = c, a = tonumber(a), s = tonumber(s), h = h, u = u}
end
local function hdel(key, fields)
  for i = 1, #fields, 1000 do
    redis.call('HDEL', key, unpack(fields, i, math.min(i + 999, #fields)))
  end
end
local function prune(key, now, idle)
  local dead, left = {}, 0
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if #f == 43 then
      left = left + 1
      local m = redis.call('HGET', key, f)
      local r, gone = parse(m), true
      if r then
        gone = now >= r.a or now >= r.s + idle
      else
        local til = tonumber(string.match(m, '^> %S+ (%d+)$'))
        gone = not til or now >= til
      end
      if gone then dead[#dead + 1] = f; dead[#dead + 1] = f .. 'd'; left = left - 1 end
    end
  end
  hdel(key, dead)
  return left
end
`

// conflictCode is what the version-checking scripts return when the
// session has moved on since the caller loaded it. They return false when
// it is missing or has ended.
const conflictCode = -1

// reply turns a script's reply into its array of strings, ErrNotFound
// (false) or ErrConflict (conflictCode), checking its length.
func (s *Store[T]) reply(msg rueidis.RedisMessage, err error, op, key string, want int) ([]string, error) {
	if rueidis.IsRedisNil(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("session: %s %s: %w", op, key, err)
	}
	if msg.IsInt64() { // AsInt64 of an array would build an error
		if code, _ := msg.AsInt64(); code == conflictCode {
			return nil, ErrConflict
		}
	}
	fields, err := msg.AsStrSlice()
	if err == nil && want >= 0 && len(fields) != want {
		err = fmt.Errorf("unexpected reply %q", fields)
	}
	if err != nil {
		return nil, fmt.Errorf("session: %s %s: %w", op, key, err)
	}
	return fields, nil
}

// replyInt parses an integer a script replied with.
func replyInt(op, key, field string) (int64, error) {
	n, err := strconv.ParseInt(field, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("session: %s %s: unexpected reply %q", op, key, field)
	}
	return n, nil
}

// readScript reads session ARGV[2] and, when its last extension is at
// least ARGV[4] ms old, extends its idle deadline (ARGV[3] ms), writing
// only its meta field and the key's TTL. It replies {meta, data, now,
// touched}.
var readScript = rediscmd.NewScript(luaCommon + `
local now, idle, id = now_ms(), tonumber(ARGV[3]), ARGV[2]
local r = live(KEYS[1], id, now, idle)
if not r then return false end
local touched = '0'
if now - r.s >= tonumber(ARGV[4]) then
  local ttl = redis.call('PTTL', KEYS[1])
  r.s = now
  redis.call('HSET', KEYS[1], id, pack(r))
  keep(KEYS[1], math.min(now + idle, r.a), now, ttl)
  touched = '1'
end
return {pack(r), redis.call('HGET', KEYS[1], id .. 'd') or '', fmt(now), touched}
`)

// readReply is what readScript told: the session, Redis's clock, and
// whether the read wrote.
type readReply struct {
	rec      record
	now      int64
	touched  bool
	checkErr error // the record failed parsing or its integrity check
}

// readRecord reads session id of key, the hash of route. A user's session
// that is not on its user's route under a key the Store holds fails its
// check (checkRoute).
func (s *Store[T]) readRecord(ctx context.Context, key, route, id string) (readReply, error) {
	msg, err := s.eval(ctx, readScript, key, true, []string{rediscmd.ClockArg(s.now), id, s.idleArg, s.touchArg})
	fields, err := s.reply(msg, err, "get", key, 4)
	if err != nil {
		return readReply{}, err
	}
	now, err := replyInt("get", key, fields[2])
	if err != nil {
		return readReply{}, err
	}
	r := readReply{now: now, touched: fields[3] == "1"}
	r.rec, r.checkErr = s.checkedRecord(key, id, fields[0], []byte(fields[1]))
	if r.checkErr == nil {
		if err := s.checkRoute(ctx, route, r.rec.user); errors.Is(err, errForeignRoute) {
			r.checkErr = fmt.Errorf("%w: record %s: %w", ErrNotFound, key, err)
		} else if err != nil {
			return readReply{}, err
		}
	}
	return r, nil
}

// createScript writes a new session ARGV[2] at version 1: created ARGV[4],
// absolute deadline ARGV[5], mac ARGV[6], user ARGV[7], data ARGV[8]. When
// the key holds sessions already (a user's), it first prunes the ended
// ones. It replies {now}, or false when the absolute deadline has passed
// already.
//
// ARGV[9] is "1" for an anonymous session: its route was just drawn from
// crypto/rand and no token naming it has left the process, so the key does
// not exist. The script then skips the read before the write, and the
// key's TTL is the new session's deadline. That is the case to make cheap:
// three commands (TIME, HSET, PEXPIRE), no function defined, one number
// formatted; the meta field is built from the arguments as given, and
// PEXPIRE takes the idle timeout as given when it ends before the absolute
// deadline.
var createScript = rediscmd.NewScript(rediscmd.NowLua("ARGV[1]") + `
local key, id, idle, a = KEYS[1], ARGV[2], ARGV[3] + 0, ARGV[5] + 0
local now = math.floor(now_us / 1000)
local ttl = -2
if ARGV[9] ~= '1' then ttl = redis.call('PTTL', key) end
if a <= now then return false end
if ttl ~= -2 then` + luaPrune + `
  if prune(key, now, idle) == 0 then ttl = -2 end
end
local nows = string.format('%.0f', now)
redis.call('HSET', key, id, '1 ' .. ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. nows .. ' ' .. ARGV[6] .. ' ' .. ARGV[7], id .. 'd', ARGV[8])
if ttl == -2 and now + idle <= a then
  redis.call('PEXPIRE', key, ARGV[3])
else
  local left = math.min(now + idle, a) - now
  if ttl < left then redis.call('PEXPIRE', key, left) end
end
return {nows}
`)

// saveScript stores data ARGV[6] and mac ARGV[5] if session ARGV[2] is
// still at version ARGV[4], bumps the version and extends the idle
// deadline. It replies {meta, now}: the meta field it wrote.
var saveScript = rediscmd.NewScript(luaCommon + `
local now, idle, id = now_ms(), tonumber(ARGV[3]), ARGV[2]
local r = live(KEYS[1], id, now, idle)
if not r then return false end
if r.v ~= ARGV[4] then return -1 end
local ttl = redis.call('PTTL', KEYS[1])
r.v, r.s, r.h = fmt(tonumber(r.v) + 1), now, ARGV[5]
local meta = pack(r)
redis.call('HSET', KEYS[1], id, meta, id .. 'd', ARGV[6])
keep(KEYS[1], math.min(now + idle, r.a), now, ttl)
redis.call('PTTL', KEYS[1])
return {meta, fmt(now)}
`)

// regenerateScript moves session ARGV[2], if still at version ARGV[4], to
// id ARGV[5] with mac ARGV[6] and data ARGV[7], at version 1 with the same
// user, creation time and absolute deadline, and leaves a forward to it
// under the old id for ARGV[8] ms (at most until the absolute deadline).
// It replies {new meta, now}.
var regenerateScript = rediscmd.NewScript(luaCommon + `
local now, idle, id = now_ms(), tonumber(ARGV[3]), ARGV[2]
local r = live(KEYS[1], id, now, idle)
if not r then return false end
if r.v ~= ARGV[4] then return -1 end
local ttl = redis.call('PTTL', KEYS[1])
prune(KEYS[1], now, idle)
redis.call('HDEL', KEYS[1], id .. 'd')
redis.call('HSET', KEYS[1], id, '> ' .. ARGV[5] .. ' ' .. fmt(math.min(r.a, now + tonumber(ARGV[8]))))
r.v, r.s, r.h = '1', now, ARGV[6]
redis.call('HSET', KEYS[1], ARGV[5], pack(r), ARGV[5] .. 'd', ARGV[7])
keep(KEYS[1], math.min(now + idle, r.a), now, ttl)
redis.call('PTTL', KEYS[1])
return {pack(r), fmt(now)}
`)

// destroyScript deletes session ARGV[2] and, when it was moved by
// Regenerate, follows the forwards and deletes its successors. It replies
// {user} of the live session it ended, or false when none was live.
var destroyScript = rediscmd.NewScript(luaCommon + `
local now, idle, id = now_ms(), tonumber(ARGV[3]), ARGV[2]
local ended = false
while true do
  local m = redis.call('HGET', KEYS[1], id)
  if not m then break end
  redis.call('HDEL', KEYS[1], id, id .. 'd')
  local r = parse(m)
  if r then
    if now < r.a and now < r.s + idle then ended = r.u end
    break
  end
  local nxt, til = string.match(m, '^> (%S+) (%d+)$')
  if not nxt or now >= tonumber(til) then break end
  id = nxt
end
if ended then return {ended} end
return false
`)

// destroyAllScript deletes every session of user ARGV[2] in the key, and
// every forward, and replies with how many sessions it deleted.
var destroyAllScript = rediscmd.NewScript(luaCommon + `
local dead, others, n = {}, false, 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if #f == 43 then
    local r = parse(redis.call('HGET', KEYS[1], f))
    if r and r.u ~= ARGV[2] then
      others = true
    else
      if r then n = n + 1 end
      dead[#dead + 1] = f; dead[#dead + 1] = f .. 'd'
    end
  end
end
if others then hdel(KEYS[1], dead) else redis.call('DEL', KEYS[1]) end
return n
`)

// revokeScript deletes the live session of user ARGV[4] whose id starts
// with ARGV[2], and replies 1, or false when there is none.
var revokeScript = rediscmd.NewScript(luaCommon + `
local now, idle = now_ms(), tonumber(ARGV[3])
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if #f == 43 and string.sub(f, 1, #ARGV[2]) == ARGV[2] then
    local r = live(KEYS[1], f, now, idle)
    if r and r.u == ARGV[4] then
      redis.call('HDEL', KEYS[1], f, f .. 'd')
      return 1
    end
  end
end
return false
`)

// listScript replies {id, meta, data, ...} for every live session of user
// ARGV[2] in the key. It writes nothing.
var listScript = rediscmd.NewScript(luaCommon + `
local now, idle, out = now_ms(), tonumber(ARGV[3]), {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if #f == 43 then
    local r = live(KEYS[1], f, now, idle)
    if r and r.u == ARGV[2] then
      out[#out + 1] = f
      out[#out + 1] = pack(r)
      out[#out + 1] = redis.call('HGET', KEYS[1], f .. 'd') or ''
    end
  end
end
return out
`)
