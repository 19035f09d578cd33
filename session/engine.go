package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// Redis layout (see doc.go for why):
//
//	<prefix>s:{<id>}   hash, one per session, hash-tagged by its own id
//	                   u = user ID, d = codec bytes, v = version,
//	                   c = created, a = absolute deadline, s = last extension
//	                   (Unix ms); PEXPIRE = min(idle, absolute - now)
//	<prefix>u:{<user>} sorted set, one per user: member = id,
//	                   score = absolute deadline (Unix ms)
//
// id is base64url(SHA-256(token)); no token is ever sent to Redis.

// indexGrace is how long after its absolute deadline an index entry is
// pruned. The deadline in the index comes from the clock of the node that
// holds the index, which may differ from the record's node by a little;
// the grace keeps an entry until its record is surely gone.
const indexGrace = time.Minute

// conflictCode is what the version-checking scripts return when the record
// has moved on since the caller loaded it. They return false when the record
// is missing or has expired.
const conflictCode = -1

func (s *Store[T]) recordKey(id string) string  { return s.cfg.prefix + "s:{" + id + "}" }
func (s *Store[T]) indexKey(user string) string { return s.cfg.prefix + "u:{" + user + "}" }
func millis(d time.Duration) string             { return strconv.FormatInt(d.Milliseconds(), 10) }
func (s *Store[T]) idleArg() string             { return millis(s.cfg.idle) }
func (s *Store[T]) redisErr(op, key string, err error) error {
	return fmt.Errorf("session: %s %s: %w", op, key, err)
}

// nowArg is ARGV[1] of every script: empty in production, so the script
// reads Redis TIME; a Unix-ms time when a test drives the clock.
func (s *Store[T]) nowArg() string {
	if s.now == nil {
		return ""
	}
	return strconv.FormatInt(s.now().UnixMilli(), 10)
}

// luaCommon is the start of every script. now_ms is the single clock: Redis
// TIME, or ARGV[1] when a test sets it. str writes a number without Lua's
// exponent notation. live loads a record's fields (u d v c a s) and returns
// them when the record exists and neither deadline has passed at now;
// otherwise it returns nil, deleting a record that is present but expired
// when purge is set.
const luaCommon = `
local function now_ms()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function str(n) return string.format('%d', n) end
local function live(key, now, idle, purge)
  local r = redis.call('HMGET', key, 'u', 'd', 'v', 'c', 'a', 's')
  local a, s = tonumber(r[5]), tonumber(r[6])
  if not (r[1] and r[2] and tonumber(r[3]) and tonumber(r[4]) and a and s) then return nil end
  if now >= a or now >= s + idle then
    if purge then redis.call('DEL', key) end
    return nil
  end
  return r
end
`

// record is a session record as Redis holds it, times in Unix ms.
type record struct {
	user                    string
	data                    []byte
	version                 int64
	created, absolute, seen int64
}

// parseRecord decodes the fields u d v c a s that the scripts return. Any
// field that is not what the scripts write makes it fail, never panic.
func parseRecord(fields []string) (record, error) {
	if len(fields) != 6 {
		return record{}, fmt.Errorf("record has %d fields, want 6", len(fields))
	}
	rec := record{user: fields[0], data: []byte(fields[1])}
	for i, dst := range []*int64{&rec.version, &rec.created, &rec.absolute, &rec.seen} {
		n, err := strconv.ParseInt(fields[2+i], 10, 64)
		if err != nil {
			return record{}, fmt.Errorf("record field %d: %w", 2+i, err)
		}
		*dst = n
	}
	if rec.version < 1 || rec.created > rec.absolute || rec.seen > rec.absolute {
		return record{}, errors.New("record times or version out of range")
	}
	return rec, nil
}

// scriptReply turns a session script's reply into its array of strings,
// ErrNotFound (false) or ErrConflict (conflictCode).
func (s *Store[T]) scriptReply(res rueidis.RedisResult, op, key string) ([]string, error) {
	msg, err := res.ToMessage()
	if rueidis.IsRedisNil(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, s.redisErr(op, key, err)
	}
	if code, err := msg.AsInt64(); err == nil && code == conflictCode {
		return nil, ErrConflict
	}
	fields, err := msg.AsStrSlice()
	if err != nil {
		return nil, s.redisErr(op, key, err)
	}
	return fields, nil
}

func (s *Store[T]) recordReply(res rueidis.RedisResult, op, key string) (record, error) {
	fields, err := s.scriptReply(res, op, key)
	if err != nil {
		return record{}, err
	}
	rec, err := parseRecord(fields)
	if err != nil {
		return record{}, fmt.Errorf("%w: %s %s: %w", ErrNotFound, op, key, err)
	}
	return rec, nil
}

// getScript reads a live record. With ARGV[4] = "touch" it extends the idle
// deadline, but only when the last extension is at least ARGV[3] ms old, and
// then writes just the timestamp and the TTL. Any other ARGV[4] ("peek")
// writes nothing and leaves the data out of the reply.
var getScript = rueidis.NewLuaScript(luaCommon + `
local now, idle = now_ms(), tonumber(ARGV[2])
local touch = ARGV[4] == 'touch'
local r = live(KEYS[1], now, idle, touch)
if not r then return false end
if not touch then
  r[2] = ''
elseif now - tonumber(r[6]) >= tonumber(ARGV[3]) then
  r[6] = str(now)
  redis.call('HSET', KEYS[1], 's', r[6])
  redis.call('PEXPIRE', KEYS[1], math.min(idle, tonumber(r[5]) - now))
end
return r
`)

func (s *Store[T]) loadRecord(ctx context.Context, id string, touch bool) (record, error) {
	mode := "peek"
	if touch {
		mode = "touch"
	}
	key := s.recordKey(id)
	res := getScript.Exec(ctx, s.redis, []string{key}, []string{s.nowArg(), s.idleArg(), millis(s.cfg.touch), mode})
	return s.recordReply(res, "get", key)
}

// saveScript stores new data if the record is still at version ARGV[3],
// bumps the version and extends the idle deadline. It replies
// {version, now}.
var saveScript = rueidis.NewLuaScript(luaCommon + `
local now, idle = now_ms(), tonumber(ARGV[2])
local r = live(KEYS[1], now, idle, true)
if not r then return false end
if r[3] ~= ARGV[3] then return -1 end
local v = str(tonumber(r[3]) + 1)
redis.call('HSET', KEYS[1], 'd', ARGV[4], 'v', v, 's', str(now))
redis.call('PEXPIRE', KEYS[1], math.min(idle, tonumber(r[5]) - now))
return {v, str(now)}
`)

func (s *Store[T]) saveRecord(ctx context.Context, id string, version int64, data []byte) (newVersion, seen int64, err error) {
	key := s.recordKey(id)
	res := saveScript.Exec(ctx, s.redis, []string{key},
		[]string{s.nowArg(), s.idleArg(), strconv.FormatInt(version, 10), rueidis.BinaryString(data)})
	values, err := s.scriptInts(res, "save", key, 2)
	if err != nil {
		return 0, 0, err
	}
	return values[0], values[1], nil
}

// claimScript deletes a live record at version ARGV[3] and replies with its
// fields, so Regenerate can move it to a new id.
var claimScript = rueidis.NewLuaScript(luaCommon + `
local r = live(KEYS[1], now_ms(), tonumber(ARGV[2]), true)
if not r then return false end
if r[3] ~= ARGV[3] then return -1 end
redis.call('DEL', KEYS[1])
return r
`)

func (s *Store[T]) claimRecord(ctx context.Context, id string, version int64) (record, error) {
	key := s.recordKey(id)
	res := claimScript.Exec(ctx, s.redis, []string{key}, []string{s.nowArg(), s.idleArg(), strconv.FormatInt(version, 10)})
	return s.recordReply(res, "regenerate", key)
}

// writeScript writes a new record at version 1 for user ARGV[4] with data
// ARGV[5]. ARGV[6] and ARGV[7] are the creation time and the absolute
// deadline, or empty to start them now. It replies {created, absolute, now}
// or false when the absolute deadline has already passed.
var writeScript = rueidis.NewLuaScript(luaCommon + `
local now, idle = now_ms(), tonumber(ARGV[2])
local c = tonumber(ARGV[6]) or now
local a = tonumber(ARGV[7]) or now + tonumber(ARGV[3])
if a <= now then return false end
redis.call('HSET', KEYS[1], 'u', ARGV[4], 'd', ARGV[5], 'v', '1', 'c', str(c), 'a', str(a), 's', str(now))
redis.call('PEXPIRE', KEYS[1], math.min(idle, a - now))
return {str(c), str(a), str(now)}
`)

// writeRecord creates the record of id from rec (user, and created and
// absolute when non-zero) and fills in rec's times and version.
func (s *Store[T]) writeRecord(ctx context.Context, id string, rec *record, data []byte) error {
	key := s.recordKey(id)
	created, absolute := "", ""
	if rec.absolute != 0 {
		created, absolute = strconv.FormatInt(rec.created, 10), strconv.FormatInt(rec.absolute, 10)
	}
	res := writeScript.Exec(ctx, s.redis, []string{key}, []string{
		s.nowArg(), s.idleArg(), millis(s.cfg.absolute), rec.user, rueidis.BinaryString(data), created, absolute})
	times, err := s.scriptInts(res, "create", key, 3)
	if err != nil {
		return err
	}
	rec.created, rec.absolute, rec.seen, rec.version = times[0], times[1], times[2], 1
	return nil
}

// indexScript adds id ARGV[4] to a user's index with score ARGV[6] (the
// absolute deadline; empty = now + ARGV[2]), removes ARGV[5] when given,
// prunes entries more than ARGV[3] ms past their deadline, and keeps the
// index's TTL at the latest deadline plus that grace. It replies
// {now, deadline}.
var indexScript = rueidis.NewLuaScript(luaCommon + `
local now, grace = now_ms(), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. str(now - grace))
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[1], ARGV[5]) end
local a = tonumber(ARGV[6]) or now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], str(a), ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now + grace))
return {str(now), str(a)}
`)

// addToIndex enters id in user's index before its record exists, so every
// live record is always listed (DestroyAll relies on it). replaced is an id
// to remove in the same step; absolute is the deadline, or 0 for a new
// session. It returns the index node's now and the deadline.
func (s *Store[T]) addToIndex(ctx context.Context, user, id, replaced string, absolute int64) (now, deadline int64, err error) {
	key := s.indexKey(user)
	deadlineArg := ""
	if absolute != 0 {
		deadlineArg = strconv.FormatInt(absolute, 10)
	}
	res := indexScript.Exec(ctx, s.redis, []string{key}, []string{
		s.nowArg(), millis(s.cfg.absolute), millis(indexGrace), id, replaced, deadlineArg})
	times, err := s.scriptInts(res, "index", key, 2)
	if err != nil {
		return 0, 0, err
	}
	return times[0], times[1], nil
}

// scriptInts is scriptReply for scripts that reply with want integers.
func (s *Store[T]) scriptInts(res rueidis.RedisResult, op, key string, want int) ([]int64, error) {
	fields, err := s.scriptReply(res, op, key)
	if err != nil {
		return nil, err
	}
	if len(fields) != want {
		return nil, s.redisErr(op, key, fmt.Errorf("unexpected reply %q", fields))
	}
	out := make([]int64, want)
	for i, f := range fields {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, s.redisErr(op, key, fmt.Errorf("unexpected reply %q", fields))
		}
		out[i] = n
	}
	return out, nil
}

// destroyScript deletes a record and replies with its user ID, or false
// when it does not exist or (with ARGV[2] non-empty) belongs to another
// user than ARGV[2].
var destroyScript = rueidis.NewLuaScript(luaCommon + `
local u = redis.call('HGET', KEYS[1], 'u')
if not u or (ARGV[2] ~= '' and u ~= ARGV[2]) then return false end
redis.call('DEL', KEYS[1])
return {u}
`)

// destroy deletes the record of id, then its index entry. owner, when
// non-empty, must be the record's user.
func (s *Store[T]) destroy(ctx context.Context, id, owner string) error {
	key := s.recordKey(id)
	res := destroyScript.Exec(ctx, s.redis, []string{key}, []string{s.nowArg(), owner})
	fields, err := s.scriptReply(res, "destroy", key)
	if err != nil {
		return err
	}
	if len(fields) != 1 || fields[0] == "" {
		return nil
	}
	index := s.indexKey(fields[0])
	if err := s.redis.Do(ctx, s.redis.B().Zrem().Key(index).Member(id).Build()).Error(); err != nil {
		return s.redisErr("destroy", index, err)
	}
	return nil
}

func (s *Store[T]) indexMembers(ctx context.Context, user string) ([]string, error) {
	key := s.indexKey(user)
	ids, err := s.redis.Do(ctx, s.redis.B().Zrange().Key(key).Min("0").Max("-1").Build().Pin()).AsStrSlice() // pinned: rueidis recycles a retried read that its broken connection may still be writing (a data race under CLIENT KILL)
	if err != nil {
		return nil, s.redisErr("index", key, err)
	}
	return ids, nil
}

// deleteSessions deletes the records of ids, each in its own slot, and then
// their entries in user's index; entries added since are kept.
func (s *Store[T]) deleteSessions(ctx context.Context, user string, ids []string) error {
	cmds := make(rueidis.Commands, 0, len(ids))
	for _, id := range ids {
		cmds = append(cmds, s.redis.B().Del().Key(s.recordKey(id)).Build())
	}
	for i, res := range s.redis.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return s.redisErr("destroy", s.recordKey(ids[i]), err)
		}
	}
	return s.removeFromIndex(ctx, user, ids)
}

func (s *Store[T]) removeFromIndex(ctx context.Context, user string, ids []string) error {
	key := s.indexKey(user)
	if err := s.redis.Do(ctx, s.redis.B().Zrem().Key(key).Member(ids...).Build()).Error(); err != nil {
		return s.redisErr("index", key, err)
	}
	return nil
}

// listSessions peeks at each record of ids (one pipelined round trip per
// node after the script is loaded) and removes the ended ones from the
// index.
func (s *Store[T]) listSessions(ctx context.Context, user string, ids []string) ([]Info, error) {
	execs := make([]rueidis.LuaExec, len(ids))
	args := []string{s.nowArg(), s.idleArg(), "0", "peek"}
	for i, id := range ids {
		execs[i] = rueidis.LuaExec{Keys: []string{s.recordKey(id)}, Args: args}
	}
	var infos []Info
	var ended []string
	for i, res := range getScript.ExecMulti(ctx, s.redis, execs...) {
		rec, err := s.recordReply(res, "list", execs[i].Keys[0])
		switch {
		case errors.Is(err, ErrNotFound):
			ended = append(ended, ids[i])
		case err != nil:
			return nil, err
		case rec.user == user:
			infos = append(infos, Info{
				ID:                publicID(ids[i]),
				CreatedAt:         time.UnixMilli(rec.created),
				LastSeen:          time.UnixMilli(rec.seen),
				ExpiresAt:         s.expiresAt(rec.seen, rec.absolute),
				AbsoluteExpiresAt: time.UnixMilli(rec.absolute),
			})
		}
	}
	if len(ended) > 0 {
		if err := s.removeFromIndex(ctx, user, ended); err != nil {
			return nil, err
		}
	}
	return infos, nil
}
