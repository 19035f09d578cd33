package rediscmd

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// Script is a Lua script sent with EVALSHA, and with EVAL when the server
// does not know it yet (NOSCRIPT). Unlike rueidis.Lua it can be sent through
// any Sender, such as transport.Conn.DoTracked for a tracked read. It is
// safe for concurrent use.
type Script struct {
	body, sha string
}

// NewScript returns the script with body.
func NewScript(body string) *Script {
	sum := sha1.Sum([]byte(body))
	return &Script{body: body, sha: hex.EncodeToString(sum[:])}
}

// A Sender sends one command and returns its reply; typecache.Client's
// DoTracked is one, and Plain(redis) sends with redis.Do.
type Sender func(ctx context.Context, cmd rueidis.Completed) (rueidis.RedisMessage, error)

// Plain returns the Sender that sends with redis.Do.
func Plain(redis rueidis.Client) Sender {
	return func(ctx context.Context, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
		return redis.Do(ctx, cmd).ToMessage()
	}
}

// Exec runs the script once through send on keys (all in one cluster slot)
// with args; redis builds the commands.
func (s *Script) Exec(ctx context.Context, redis rueidis.Client, send Sender, keys, args []string) (rueidis.RedisMessage, error) {
	msg, err := send(ctx, s.evalsha(redis, keys, args))
	if IsNoScript(err) {
		msg, err = send(ctx, s.eval(redis, keys, args))
	}
	return msg, err
}

// ExecMany runs the script once per entry of keys and args (keys[i] in one
// slot each) in one pipeline: rueidis sends each node its part in one round
// trip. Calls the server did not know the script for are sent again with
// EVAL, together.
func (s *Script) ExecMany(ctx context.Context, redis rueidis.Client, keys, args [][]string) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(keys))
	for i := range keys {
		cmds[i] = s.evalsha(redis, keys[i], args[i])
	}
	results := redis.DoMulti(ctx, cmds...)
	var again []int
	for i, res := range results {
		if IsNoScript(res.Error()) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		evals := make(rueidis.Commands, len(again))
		for j, i := range again {
			evals[j] = s.eval(redis, keys[i], args[i])
		}
		for j, res := range redis.DoMulti(ctx, evals...) {
			results[again[j]] = res
		}
	}
	return results
}

// EvalSha returns the EVALSHA command of one call, for callers that batch
// it with other commands; on a NOSCRIPT reply (IsNoScript) send Eval's.
func (s *Script) EvalSha(redis rueidis.Client, keys, args []string) rueidis.Completed {
	return s.evalsha(redis, keys, args)
}

// Eval returns the EVAL command of one call.
func (s *Script) Eval(redis rueidis.Client, keys, args []string) rueidis.Completed {
	return s.eval(redis, keys, args)
}

func (s *Script) evalsha(redis rueidis.Client, keys, args []string) rueidis.Completed {
	return redis.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()
}

func (s *Script) eval(redis rueidis.Client, keys, args []string) rueidis.Completed {
	return redis.B().Eval().Script(s.body).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()
}

// IsNoScript reports whether err is the server's NOSCRIPT reply.
func IsNoScript(err error) bool {
	reply, ok := rueidis.IsRedisErr(err)
	return ok && reply.IsNoScript()
}
