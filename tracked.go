package typecache

import (
	"context"
	"slices"
	"strings"

	"github.com/redis/rueidis"
)

// trackedRead holds the commands that wrap a read so that Redis tracks the
// keys it reads for the connection that sends it.
type trackedRead struct {
	optIn                bool // OPTIN mode: each read asks with CLIENT CACHING YES
	multi, caching, exec rueidis.Completed
}

// newTrackedRead returns how to send tracked reads on a client built with
// opt, or nil when the client tracks nothing (DisableCache).
func newTrackedRead(redis rueidis.Client, opt rueidis.ClientOption) *trackedRead {
	if opt.DisableCache {
		return nil
	}
	t := &trackedRead{optIn: len(opt.ClientTrackingOptions) == 0 ||
		slices.ContainsFunc(opt.ClientTrackingOptions, func(o string) bool { return strings.EqualFold(o, "OPTIN") })}
	// Built once and pinned, so never recycled: safe to send from any
	// number of calls at once.
	b := redis.B()
	t.multi = b.Multi().Build().Pin()
	t.caching = b.ClientCaching().Yes().Build().Pin()
	t.exec = b.Exec().Build().Pin()
	return t
}

// Tracking reports whether DoTracked's reads are tracked: false for a
// client built with ClientOption.DisableCache.
func (c *Client) Tracking() bool { return c.tracked != nil }

// DoTracked sends cmd, a command that reads keys of one cluster slot (a GET,
// or a script that reads and writes), so that Redis tracks the keys it reads
// for this client: when one of them changes afterwards, every [Subscriber]
// whose prefix matches hears of it, as for reads through rueidis's DoCache.
// Unlike DoCache, the reply is not kept in rueidis's client-side cache, so
// the caller decides what to keep and how to order it against its own
// writes.
//
// In rueidis's default OPTIN tracking mode the command is sent as MULTI,
// CLIENT CACHING YES, cmd, EXEC in one round trip, which also keeps the
// four together when a cluster redirects them. An error reply of cmd (say
// NOSCRIPT) is returned as the error. Without tracking (Tracking is false)
// cmd is sent alone and nothing is tracked.
//
// cmd must not be used after the call (rueidis recycles it) unless pinned.
func (c *Client) DoTracked(ctx context.Context, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	if c.tracked == nil || !c.tracked.optIn {
		return c.redis.Do(ctx, cmd).ToMessage()
	}
	replies, err := c.DoTrackedMulti(ctx, cmd)
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	return replies[0], replies[0].Error()
}

// DoTrackedMulti is DoTracked for several commands whose keys all live in
// one cluster slot, in one transaction and one round trip. It returns one
// reply per command (an error reply is a message whose Error is not nil);
// the error is for the transaction as a whole.
func (c *Client) DoTrackedMulti(ctx context.Context, cmds ...rueidis.Completed) ([]rueidis.RedisMessage, error) {
	if c.tracked == nil || !c.tracked.optIn {
		replies := make([]rueidis.RedisMessage, len(cmds))
		for i, r := range c.redis.DoMulti(ctx, cmds...) {
			msg, err := r.ToMessage()
			if err != nil && !isReply(err) {
				return nil, err
			}
			replies[i] = msg
		}
		return replies, nil
	}
	batch := make(rueidis.Commands, 0, len(cmds)+3)
	batch = append(batch, c.tracked.multi, c.tracked.caching)
	batch = append(batch, cmds...)
	batch = append(batch, c.tracked.exec)
	rs := c.redis.DoMulti(ctx, batch...)
	for _, r := range rs[:2] {
		if err := r.Error(); err != nil {
			return nil, err
		}
	}
	replies, err := rs[len(rs)-1].ToArray()
	if err != nil {
		// A command refused while queued (MOVED, a syntax error) aborts
		// the transaction; its own reply says why.
		for _, r := range rs[2 : len(rs)-1] {
			if qerr := r.Error(); qerr != nil {
				return nil, qerr
			}
		}
		return nil, err
	}
	if len(replies) != len(cmds)+1 {
		return nil, errShortExec
	}
	return replies[1:], nil
}

// isReply reports whether err is a reply of the server (not a failure to
// reach it).
func isReply(err error) bool {
	_, ok := rueidis.IsRedisErr(err)
	return ok || rueidis.IsRedisNil(err)
}
