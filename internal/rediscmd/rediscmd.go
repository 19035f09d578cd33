// Package rediscmd holds the conventions every typecache package follows
// when it builds commands and scripts: which commands are pinned, the clock
// every script reads, and how durations are written as arguments.
//
// # Pinning
//
// rueidis returns a command to its pool when a call succeeds, also when the
// call succeeded on a retry after its connection broke, while the broken
// connection's writer goroutine may still be reading the command: a data
// race (seen under CLIENT KILL). rueidis retries only read-only commands
// (and DoCache reads); writes, scripts (EVAL/EVALSHA) and batches that
// contain one are never retried. So typecache pins exactly the read-only
// commands it sends (Retried), and nothing else: a pin costs two small
// allocations per call. The recycled memory of an unpinned read can be
// reused by any other command of the process, so tests pin their own reads
// too, and the docs ask applications to.
//
// # Clock
//
// Scripts that need the time read it from Redis TIME, so that the clocks of
// the clients never matter; tests inject a time instead through an argument
// (ClockArg): ARGV[1] for ClockLua, any for NowLua. Effects replication, the only mode of Redis 7, makes TIME safe
// before writes.
package rediscmd

import (
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// Retried pins cmd, a read-only command that rueidis may retry; see the
// package doc.
func Retried(cmd rueidis.Completed) rueidis.Completed { return cmd.Pin() }

// RetriedCacheable pins a cacheable read; see the package doc.
func RetriedCacheable(cmd rueidis.Cacheable) rueidis.Cacheable { return cmd.Pin() }

// TimeLua defines server_us(): the time of Redis TIME in integer
// microseconds, for scripts that never take a test's clock.
const TimeLua = `
local function server_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`

// ClockLua defines, at the top of a script, now_us() and now_ms(): the time
// in integer microseconds and milliseconds, from ARGV[1] when it is not
// empty (a test's clock, in microseconds) and from Redis TIME otherwise
// (TimeLua's server_us). Doubles hold such times exactly for centuries.
// fmt(n) writes a number without Lua's exponent notation (tostring keeps 14
// digits only).
const ClockLua = TimeLua + `
local function now_us()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  return server_us()
end
local function now_ms() return math.floor(now_us() / 1000) end
local function fmt(n) return string.format('%.0f', n) end
`

// NowLua returns the Lua that sets the local now_us, once, to the time in
// integer microseconds: from arg, a Lua expression for a test's clock
// (ClockArg), when it is neither nil nor empty, else from Redis TIME. It
// costs Redis less than ClockLua, for scripts that read the time once: a
// value rather than functions (closures are created on every run), and
// arithmetic coercion rather than tonumber (about half the instructions).
// Scripts that take the clock last can leave it out in production: one
// argument less per call.
func NowLua(arg string) string {
	return "local now_us = " + arg + `
if now_us and now_us ~= '' then
  now_us = now_us + 0
else
  local t = redis.call('TIME')
  now_us = t[1] * 1000000 + t[2]
end
`
}

// ClockArg is the clock argument of a script that starts with ClockLua
// (ARGV[1]) or NowLua: empty when now is nil (production: Redis TIME), else
// now() in Unix microseconds.
func ClockArg(now func() time.Time) string {
	if now == nil {
		return ""
	}
	return strconv.FormatInt(now().UnixMicro(), 10)
}

// Millis writes d as whole milliseconds, for PX and PEXPIRE arguments.
func Millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// CircuitOpen returns the cause of a call that the client's breaker refused
// (see typecache.Breaker), for an error that already names the package and
// the call ("lock: acquire \"job\": redis unavailable (circuit open)"): it
// reads without a second package prefix and matches, with errors.Is,
// sentinel, the package's ErrUnavailable, and what sentinel matches
// (typecache.ErrUnavailable).
func CircuitOpen(sentinel error) error { return circuitOpen{sentinel} }

type circuitOpen struct{ sentinel error }

func (circuitOpen) Error() string          { return "redis unavailable (circuit open)" }
func (e circuitOpen) Is(target error) bool { return errors.Is(e.sentinel, target) }
