package transport

import (
	"context"
	"slices"
	"strings"

	"github.com/redis/rueidis"
)

// trackedRead holds the commands that wrap a read so that Redis tracks the
// keys it reads for the connection that sends it.
type trackedRead struct {
	optIn     bool              // OPTIN mode: each read asks with CLIENT CACHING YES
	ownWrites bool              // Redis reports the client's own writes: no NOLOOP, no BCAST
	caching   rueidis.Completed // CLIENT CACHING YES (Conn's multi and exec wrap it)

	// In BCAST mode with PREFIX options, Redis reports changes of the keys
	// under these prefixes only, whoever read them; nil in any other mode,
	// where every key read through DoTracked is tracked.
	prefixes []string
}

// newTrackedRead returns how to send tracked reads on a client built with
// opt, or nil when the client tracks nothing (DisableCache).
func newTrackedRead(redis rueidis.Client, opt rueidis.ClientOption) *trackedRead {
	has := func(option string) bool {
		return slices.ContainsFunc(opt.ClientTrackingOptions, func(o string) bool { return strings.EqualFold(o, option) })
	}
	if opt.DisableCache {
		return nil
	}
	t := &trackedRead{
		optIn:     len(opt.ClientTrackingOptions) == 0 || has("OPTIN"),
		ownWrites: !has("NOLOOP") && !has("BCAST"),
	}
	if has("BCAST") {
		t.prefixes = broadcastPrefixes(opt.ClientTrackingOptions)
	}
	// Built once and pinned, so never recycled: safe to send from any
	// number of calls at once.
	b := redis.B()
	t.caching = b.ClientCaching().Yes().Build().Pin()
	return t
}

// broadcastPrefixes returns the values of the PREFIX options among
// options, CLIENT TRACKING's.
func broadcastPrefixes(options []string) []string {
	var prefixes []string
	for i := 0; i+1 < len(options); i++ {
		if strings.EqualFold(options[i], "PREFIX") {
			i++
			prefixes = append(prefixes, options[i])
		}
	}
	return prefixes
}

// Tracks reports whether Redis reports the changes of every key that
// starts with prefix, once read through DoTracked (a key space: a package
// instance's keys): false on a client built with ClientOption.DisableCache,
// and in BCAST mode with PREFIX options (CLIENT TRACKING ON BCAST PREFIX p
// ..., given as ClientOption.ClientTrackingOptions) for a key space that is
// not under one of the prefixes. A package keeps nothing in memory from a
// key space that is not tracked, since nothing would tell it of a change.
func (c *Conn) Tracks(prefix string) bool {
	if c.tracked == nil {
		return false
	}
	if c.tracked.prefixes == nil {
		return true
	}
	return slices.ContainsFunc(c.tracked.prefixes, func(p string) bool { return strings.HasPrefix(prefix, p) })
}

// NotifiesOwnWrites reports whether Redis tells this client of its own
// writes to the keys it tracks, after each write's reply: Tracking, in a
// mode without NOLOOP or BCAST (rueidis's default, OPTIN, is one). Code that
// keeps what it wrote in memory, counting on that invalidation to arrive,
// needs it.
func (c *Conn) NotifiesOwnWrites() bool { return c.tracked != nil && c.tracked.ownWrites }

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
// NOSCRIPT) is returned as the error. In BCAST mode cmd is sent alone: its
// keys are tracked if they are under a prefix (see Tracks). Without
// tracking (ClientOption.DisableCache) cmd is sent alone and nothing is
// tracked.
//
// cmd must not be used after the call (rueidis recycles it) unless pinned.
func (c *Conn) DoTracked(ctx context.Context, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	if c.tracked == nil || !c.tracked.optIn {
		if cmd.IsReadOnly() {
			cmd = cmd.Pin() // sent alone, rueidis may retry it (see internal/rediscmd)
		}
		return c.redis.Do(ctx, cmd).ToMessage()
	}
	// The single read of a remote hit: no batch bookkeeping.
	replies, err := execReplies(c.redis.DoMulti(ctx, c.multi, c.tracked.caching, cmd, c.exec), 1)
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	return replies[0], replies[0].Error()
}

// TrackedMultiIsTransaction reports whether DoTrackedMulti sends its
// commands in a transaction, so that nothing runs between them: in OPTIN
// tracking mode (rueidis's default) it does; in BCAST or OPTOUT mode, or
// without tracking, it sends them in one pipeline without MULTI.
func (c *Conn) TrackedMultiIsTransaction() bool { return c.tracked != nil && c.tracked.optIn }

// DoTrackedMulti is DoTracked for several commands whose keys all live in
// one cluster slot, in one round trip, and in one transaction when
// TrackedMultiIsTransaction. It returns one reply per command (an error
// reply is a message whose Error is not nil); the error is for the
// transaction as a whole.
func (c *Conn) DoTrackedMulti(ctx context.Context, cmds ...rueidis.Completed) ([]rueidis.RedisMessage, error) {
	replies, errs := c.DoTrackedBatches(ctx, TrackedBatch{Cmds: cmds})
	return replies[0], errs[0]
}

// A TrackedBatch is commands whose keys all live in the cluster slot of
// SlotKey (any key of theirs; it may be empty for a standalone server).
type TrackedBatch struct {
	SlotKey string
	Cmds    rueidis.Commands
}

// DoTrackedBatches sends each batch as DoTrackedMulti does, all of them in
// one pipeline: rueidis sends each node its batches together, in one round
// trip. It returns each batch's replies and error.
//
// In a cluster, batches of several slots cannot move as a unit if a slot
// migrates meanwhile: a command that Redis redirects is then re-sent alone
// by rueidis, and its batch reports an error (EXECABORT) although that
// command ran. Callers treat such an error as a failed read.
func (c *Conn) DoTrackedBatches(ctx context.Context, batches ...TrackedBatch) ([][]rueidis.RedisMessage, []error) {
	replies, errs := make([][]rueidis.RedisMessage, len(batches)), make([]error, len(batches))
	if c.tracked == nil || !c.tracked.optIn {
		var all rueidis.Commands
		for _, b := range batches {
			all = append(all, b.Cmds...)
		}
		results := c.redis.DoMulti(ctx, all...)
		for i, b := range batches {
			replies[i] = make([]rueidis.RedisMessage, len(b.Cmds))
			for j := range b.Cmds {
				msg, err := results[0].ToMessage()
				results = results[1:]
				if !redisAnswered(err) && errs[i] == nil {
					errs[i] = err
				}
				replies[i][j] = msg
			}
		}
		return replies, errs
	}
	return c.doTransactions(ctx, &c.tracked.caching, batches)
}

// DoUntrackedBatches sends each batch as one transaction (MULTI, its
// commands, EXEC), all of them in one pipeline through the pipelined
// client, as DoTrackedBatches does in OPTIN mode but with nothing tracked:
// commands whose replies nothing keeps, and that must run with nothing
// between them. It returns each batch's replies and error.
func (c *Conn) DoUntrackedBatches(ctx context.Context, batches ...TrackedBatch) ([][]rueidis.RedisMessage, []error) {
	return c.doTransactions(ctx, nil, batches)
}

// doTransactions sends each batch as MULTI, lead (unless nil: CLIENT
// CACHING YES for a tracked read), the batch's commands, EXEC, all in one
// pipeline.
func (c *Conn) doTransactions(ctx context.Context, lead *rueidis.Completed, batches []TrackedBatch) ([][]rueidis.RedisMessage, []error) {
	replies, errs := make([][]rueidis.RedisMessage, len(batches)), make([]error, len(batches))
	wrap := 2
	if lead != nil {
		wrap = 3
	}
	all := make(rueidis.Commands, 0, 4*len(batches))
	for _, b := range batches {
		keyless := func(cmd rueidis.Completed) rueidis.Completed {
			if len(batches) > 1 {
				// Keyless commands would make rueidis send the whole
				// pipeline to one slot; give them the batch's.
				return cmd.SetSlot(b.SlotKey)
			}
			return cmd
		}
		all = append(all, keyless(c.multi))
		if lead != nil {
			all = append(all, keyless(*lead))
		}
		all = append(all, b.Cmds...)
		all = append(all, keyless(c.exec))
	}
	results := c.redis.DoMulti(ctx, all...)
	for i, b := range batches {
		rs := results[:len(b.Cmds)+wrap]
		results = results[len(b.Cmds)+wrap:]
		replies[i], errs[i] = execReplies(rs, len(b.Cmds))
	}
	return replies, errs
}

// execReplies returns the replies of the last n commands queued in a
// transaction from its results: MULTI, the commands queued before them
// (CLIENT CACHING for a tracked read), those n, then EXEC.
func execReplies(rs []rueidis.RedisResult, n int) ([]rueidis.RedisMessage, error) {
	lead := len(rs) - 2 - n // queued before the n
	for _, r := range rs[:1+lead] {
		if err := r.Error(); err != nil {
			return nil, err
		}
	}
	replies, err := rs[len(rs)-1].ToArray()
	if err != nil {
		// A command refused while queued (MOVED, a syntax error) aborts
		// the transaction; its own reply says why.
		for _, r := range rs[1+lead : len(rs)-1] {
			if qerr := r.Error(); qerr != nil {
				return nil, qerr
			}
		}
		return nil, err
	}
	if len(replies) != lead+n {
		return nil, errShortExec
	}
	return replies[lead:], nil
}
