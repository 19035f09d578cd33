package leaderboard

import "github.com/typecache/typecache/internal/rediscmd"

// A board is two keys in one slot: KEYS[1], a sorted set whose elements are
// a member's tie code (16 digits) followed by the member, scored by the
// member's score; and KEYS[2], a hash from each member to its tie code, plus
// the field "" (no member is empty) counting arrivals.
//
// The tie code orders equal scores: Redis orders equal scores by element,
// and the code of the n-th arrival is n for LowestFirst boards (read in
// ascending order) and 2^53-1-n for HighestFirst ones (read in descending
// order), so in both the first to reach a score ranks first. A member gets a
// new code whenever its score changes. Scores stay whole float64 values,
// exact; the cost is the hash (about twice a plain sorted set's memory) and
// a script per write.
//
// ARGV[1] is the order: 'h' for HighestFirst, 'l' for LowestFirst.
const boardLua = `
local z, h = KEYS[1], KEYS[2]
local high = ARGV[1] == 'h'
local function code(seq)
  if high then seq = 9007199254740991 - seq end
  return string.format('%016.0f', seq)
end
-- lookup returns member's element and score (Redis's text), or nil.
local function lookup(member)
  local c = redis.call('HGET', h, member)
  if not c then return nil end
  local el = c .. member
  local s = redis.call('ZSCORE', z, el)
  if not s then return nil end
  return el, s
end
local function rank(el)
  if high then return redis.call('ZREVRANK', z, el) end
  return redis.call('ZRANK', z, el)
end
`

// writeLua follows boardLua in the scripts that write. ARGV[2] is the
// expiry: 'px' (ARGV[3] ms from now, sliding), 'pxat' (at ARGV[3], Unix ms)
// or ” (none); ARGV[4] is MaxSize.
const writeLua = boardLua + `
local function place(member, score, old)
  if old then redis.call('ZREM', z, old) end
  local c = code(redis.call('HINCRBY', h, '', 1))
  redis.call('ZADD', z, score, c .. member)
  redis.call('HSET', h, member, c)
end
-- finish sets the expiry and trims the board to MaxSize, removing the
-- members that rank last; it returns how many it removed.
local function finish()
  if ARGV[2] == 'px' then
    redis.call('PEXPIRE', z, ARGV[3])
    redis.call('PEXPIRE', h, ARGV[3])
  elseif ARGV[2] == 'pxat' then
    redis.call('PEXPIREAT', z, ARGV[3])
    redis.call('PEXPIREAT', h, ARGV[3])
  end
  local max = tonumber(ARGV[4])
  local n = redis.call('ZCARD', z)
  if n <= max then return 0 end
  local first, last = max, -1
  if high then first, last = 0, n - max - 1 end
  local gone = redis.call('ZRANGE', z, first, last)
  redis.call('ZREMRANGEBYRANK', z, first, last)
  for _, el in ipairs(gone) do redis.call('HDEL', h, string.sub(el, 17)) end
  return #gone
end
`

// addScript sets member ARGV[5]'s score to ARGV[6]; with ARGV[7] = 'best'
// only when it ranks better than the member's current score. A member
// whose score does not change keeps its place among equals. It returns
// {1 if the score was written else 0, members trimmed}.
var addScript = rediscmd.NewScript(writeLua + `
local el, old = lookup(ARGV[5])
local new = tonumber(ARGV[6])
local changed = true
if el then
  old = tonumber(old)
  changed = new ~= old and (ARGV[7] ~= 'best' or (high and new > old) or (not high and new < old))
end
if changed then place(ARGV[5], ARGV[6], el) end
return {changed and 1 or 0, finish()}
`)

// incrScript adds ARGV[6] to member ARGV[5]'s score (0 when absent). Lua's
// numbers are doubles, as Redis's scores are, and '%.17g' writes them
// exactly. It returns {the new score, members trimmed}.
var incrScript = rediscmd.NewScript(writeLua + `
local el, old = lookup(ARGV[5])
local new = tonumber(old or 0) + tonumber(ARGV[6])
if new ~= new or new == math.huge or new == -math.huge then
  return redis.error_reply('score out of range')
end
local s = string.format('%.17g', new)
if not el or new ~= tonumber(old) then place(ARGV[5], s, el) end
return {s, finish()}
`)

// lookupScript returns member ARGV[2]'s {0-based rank, score}, or nil.
var lookupScript = rediscmd.NewScript(boardLua + `
local el, s = lookup(ARGV[2])
if not el then return false end
return {rank(el), s}
`)

// aroundScript returns {the 0-based rank of the first entry, the entries
// from ARGV[3] above member ARGV[2] to ARGV[3] below it, as element, score,
// element, score...}, or nil when the member is absent.
var aroundScript = rediscmd.NewScript(boardLua + `
local el = lookup(ARGV[2])
if not el then return false end
local r, n = rank(el), tonumber(ARGV[3])
local lo = math.max(0, r - n)
if high then return {lo, redis.call('ZRANGE', z, lo, r + n, 'REV', 'WITHSCORES')} end
return {lo, redis.call('ZRANGE', z, lo, r + n, 'WITHSCORES')}
`)

// removeScript removes the members ARGV[2...].
var removeScript = rediscmd.NewScript(boardLua + `
for i = 2, #ARGV do
  local c = redis.call('HGET', h, ARGV[i])
  if c then
    redis.call('ZREM', z, c .. ARGV[i])
    redis.call('HDEL', h, ARGV[i])
  end
end
return 0
`)
