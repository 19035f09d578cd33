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

// A MultiSender sends commands whose keys all live in one cluster slot in
// one transaction (MULTI … EXEC) and returns one reply per command (an
// error reply is a message whose Error is not nil); the error is the
// transaction's. transport.Conn's DoTrackedMulti and DoUntrackedMulti are
// such senders.
type MultiSender func(ctx context.Context, cmds ...rueidis.Completed) ([]rueidis.RedisMessage, error)

// ExecThen runs the script as Exec does and, in the same transaction, the
// command then builds (built anew for each attempt), so that nothing can
// run between the two: a read of a large value beside the script that
// decides whether it is served, which spares Redis a Lua string of the
// value. It returns the script's reply and then's.
func (s *Script) ExecThen(ctx context.Context, redis rueidis.Client, send MultiSender, keys, args []string, then func() rueidis.Completed) (script, next rueidis.RedisMessage, err error) {
	replies, err := send(ctx, s.evalsha(redis, keys, args), then())
	if err == nil && IsNoScript(replies[0].Error()) {
		replies, err = send(ctx, s.eval(redis, keys, args), then())
	}
	if err != nil {
		return rueidis.RedisMessage{}, rueidis.RedisMessage{}, err
	}
	if err := replies[0].Error(); err != nil {
		return replies[0], rueidis.RedisMessage{}, err
	}
	return replies[0], replies[1], nil
}

// ExecMany runs the script once per entry of keys and args (keys[i] in one
// slot each) in one pipeline: rueidis sends each node its part in one round
// trip. Only the calls the server did not know the script for are sent
// again, with EVAL, together (see resend).
func (s *Script) ExecMany(ctx context.Context, redis rueidis.Client, keys, args [][]string) []rueidis.RedisResult {
	return resend(s, redis, keys, args, nil, rueidis.RedisResult.Error, func(cmds rueidis.Commands, _ []int) []rueidis.RedisResult {
		return redis.DoMulti(ctx, cmds...)
	})
}

// A BatchSender sends cmds, cmds[i] about keys[i] (one slot each), in one
// pipeline, and returns each command's reply and error (an error reply,
// such as NOSCRIPT, is an error).
type BatchSender func(ctx context.Context, cmds rueidis.Commands, keys [][]string) ([]rueidis.RedisMessage, []error)

// Reply is one call's reply and error.
type Reply struct {
	Msg rueidis.RedisMessage
	Err error
}

// AsInt64 returns the reply as an integer, or the call's error.
func (r Reply) AsInt64() (int64, error) {
	if r.Err != nil {
		return 0, r.Err
	}
	return r.Msg.AsInt64()
}

// ExecBatch is ExecMany through send, such as a sender of tracked reads.
func (s *Script) ExecBatch(ctx context.Context, redis rueidis.Client, send BatchSender, keys, args [][]string) []Reply {
	return s.ExecBatchThen(ctx, redis, send, keys, args, nil)
}

// ExecBatchThen is ExecBatch with, after each call's script, the command
// then(i) builds for call i (built anew for each attempt), which send must
// send in the same transaction as the script (see ExecThen): it returns
// two replies per call, the script's and then's. A nil then sends the
// scripts alone, one reply per call.
func (s *Script) ExecBatchThen(ctx context.Context, redis rueidis.Client, send BatchSender, keys, args [][]string, then func(i int) rueidis.Completed) []Reply {
	per := commandsPerCall(then)
	return resend(s, redis, keys, args, then, func(r Reply) error { return r.Err }, func(cmds rueidis.Commands, calls []int) []Reply {
		sent := keys // each command's keys
		if calls != nil || per > 1 {
			sent = make([][]string, 0, len(cmds))
			for j := range len(cmds) / per {
				i := j
				if calls != nil {
					i = calls[j]
				}
				for range per {
					sent = append(sent, keys[i])
				}
			}
		}
		msgs, errs := send(ctx, cmds, sent)
		out := make([]Reply, len(cmds))
		for i := range out {
			out[i] = Reply{msgs[i], errs[i]}
		}
		return out
	})
}

// resend is the one place that handles NOSCRIPT for many calls: it sends
// every call with EVALSHA (send's calls are nil), followed by the command
// then builds for it when then is not nil, then sends again, with EVAL,
// only the calls (their indexes in calls) whose script's error (errOf) was
// NOSCRIPT, and returns each command's result. A call that ran is never
// sent twice: after SCRIPT FLUSH on one node of a cluster (a restart, a
// failover to a fresh replica), the calls to the other nodes keep what they
// did.
func resend[R any](s *Script, redis rueidis.Client, keys, args [][]string, then func(i int) rueidis.Completed, errOf func(R) error, send func(cmds rueidis.Commands, calls []int) []R) []R {
	per := commandsPerCall(then)
	build := func(cmds rueidis.Commands, i int, script rueidis.Completed) rueidis.Commands {
		cmds = append(cmds, script)
		if then != nil {
			cmds = append(cmds, then(i))
		}
		return cmds
	}
	cmds := make(rueidis.Commands, 0, per*len(keys))
	for i := range keys {
		cmds = build(cmds, i, s.evalsha(redis, keys[i], args[i]))
	}
	results := send(cmds, nil)
	var again []int
	for i := range keys {
		if IsNoScript(errOf(results[per*i])) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		evals := make(rueidis.Commands, 0, per*len(again))
		for _, i := range again {
			evals = build(evals, i, s.eval(redis, keys[i], args[i]))
		}
		for j, res := range send(evals, again) {
			results[per*again[j/per]+j%per] = res
		}
	}
	return results
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

// commandsPerCall is the number of commands resend sends per call: the
// script, and the command then builds when then is not nil.
func commandsPerCall(then func(i int) rueidis.Completed) int {
	if then != nil {
		return 2
	}
	return 1
}
