package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// errPeerClosed is the error of a command that was never sent, because the
// connection it was about to go on was closed by the server, or unusable
// (bytes waiting on it while no reply was due).
var errPeerClosed = errors.New("connection closed or given up by the server before the command was sent")

// newDirectClient returns the Conn's second rueidis client (see Direct).
// It tracks nothing (DisableCache), and it never pipelines
// (DisableAutoPipelining): each call takes a connection of its own from a
// pool, writes, and reads the reply on the caller's goroutine, as go-redis
// does. A client with tracking instead sends every command through a
// connection's writer goroutine and reads it on its reader goroutine, which
// is always reading for invalidations: two goroutine switches per round
// trip.
//
// A connection that nobody reads while it is idle does not notice the
// server closing it (a restart, CLIENT KILL, the server's idle timeout, a
// TLS close_notify, a proxy's parting error), and a write sent on it would
// fail when its reply is awaited, too late to know whether it ran, or read
// the parting bytes as its reply. So every connection of this client peeks
// at its socket before the first write of each call (directConn); if the
// server has closed it or left bytes on it, nothing is sent, and
// directClient.Do sends the command again on another connection. Since a
// connection carries one call at a time, no other command is in flight on
// it then.
func newDirectClient(opt rueidis.ClientOption, poll *replyPoll) (rueidis.Client, error) {
	opt.DisableCache = true
	opt.DisableAutoPipelining = true
	opt.OnInvalidations = nil
	// One connection per caller waiting at once, up to go-redis's default
	// pool size.
	opt.BlockingPoolSize = 10 * runtime.GOMAXPROCS(0)
	dial := dialer(opt)
	opt.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
		conn, err := dial(ctx, dst, d, cfg)
		if err != nil {
			return nil, err
		}
		return directConnOf(conn, poll), nil
	}
	opt.DialFn = nil
	redis, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, err
	}
	// A restart closes every idle connection of the pool: each is found out
	// by one peek, without a round trip, and the next attempt may take a
	// new one.
	return directClient{Client: redis, attempts: opt.BlockingPoolSize + 2}, nil
}

// dialer returns how rueidis would dial with opt.
func dialer(opt rueidis.ClientOption) func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error) {
	switch {
	case opt.DialCtxFn != nil:
		return opt.DialCtxFn
	case opt.DialFn != nil:
		return func(_ context.Context, dst string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
			return opt.DialFn(dst, d, cfg)
		}
	}
	return func(ctx context.Context, dst string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
		if cfg != nil {
			return (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", dst)
		}
		return d.DialContext(ctx, "tcp", dst)
	}
}

// directClient is a rueidis client whose Do sends a command again, on a new
// connection, when it was not sent because the server had closed or given
// up the connection (errPeerClosed): the command never reached Redis, so
// sending it again is safe for any command, writes included.
type directClient struct {
	rueidis.Client
	attempts int // how many connections one call may find closed, and one more
}

// Do sends cmd as rueidis does, and again on a new connection when it was
// not sent because its connection was closed by the server.
func (c directClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	// rueidis recycles cmd only after a call without a network error, so
	// cmd is intact for the next attempt.
	var r rueidis.RedisResult
	for range c.attempts {
		if r = c.Client.Do(ctx, cmd); !errors.Is(r.Error(), errPeerClosed) {
			break
		}
	}
	return r
}

// DoMulti sends cmds as rueidis does, and again on a new connection when
// none of them was sent because the connection was closed by the server
// (each failed with errPeerClosed, which the first write of a call
// reports before anything leaves).
func (c directClient) DoMulti(ctx context.Context, cmds ...rueidis.Completed) []rueidis.RedisResult {
	var rs []rueidis.RedisResult
	for range c.attempts {
		rs = c.Client.DoMulti(ctx, cmds...)
		if slices.ContainsFunc(rs, func(r rueidis.RedisResult) bool { return !errors.Is(r.Error(), errPeerClosed) }) {
			break // sent
		}
	}
	return rs
}

// Direct returns a client for lone calls whose reply nothing keeps in
// memory, such as lock scripts, session writes and a counter's reads: a
// second rueidis client, built from the same options, that tracks nothing
// and never pipelines. Each call has a connection of its own, from a pool
// of at most ten per processor and Redis node, and is read on the caller's
// goroutine. With the reply poll on (Options.ReplyPoll), a caller polls
// the socket for the reply for up to the poll's window before it parks,
// trading processor time for a goroutine wake-up per round trip; the poll
// adapts (see replyPoll and pollBackoff), and Polls counts the reads that
// polled.
//
// A connection the server closed or gave up while idle (a restart, CLIENT
// KILL, a TLS close_notify, a proxy's parting error) is found out before
// anything is written on it, and Do sends the command on another
// connection: the first write after a restart succeeds instead of failing
// with EOF or returning the parting bytes as its reply, and nothing is ever
// sent twice. Connections made by a custom ClientOption.DialCtxFn get these
// checks when they are a syscall.Conn, or have a NetConn method leading to
// one (as *tls.Conn has).
//
// The packages send through DoUntracked, which picks this client or the
// pipelined one per call. Nothing read through it is tracked: do not read
// through it what a local tier keeps. Its connections count against the
// server's maxclients beside those of [Conn.Redis], and on a cluster it
// follows the topology on its own, as Conn.Redis does.
func (c *Conn) Direct() rueidis.Client { return c.direct }

// replyPoll is the reply poll of one direct client (see directConn): its
// window, how many calls of Conn.DoUntracked await their replies, and how
// many of the direct client's reads poll at once. It polls only while that
// can pay: a read that polls keeps a processor busy, and once the calls
// awaiting replies outnumber the processors left for them (GOMAXPROCS at
// Dial, less one), the replies of the others would wait for the poller to
// yield, and the processors have other work than spinning: then no read
// polls, and the client behaves as with the poll off. A window of 0 (or a nil *replyPoll)
// never polls; the count of waiting calls is kept whatever the window.
type replyPoll struct {
	window     time.Duration
	maxPollers int32
	waiting    atomic.Int32  // DoUntracked's calls under way, whichever client they went to
	pollers    atomic.Int32  // reads polling now
	polls      atomic.Uint64 // polls begun: for tests and benchmarks
}

// newReplyPoll returns the poll of a direct client, which counts its calls
// awaiting replies (see Conn.DoUntracked) and, when window is positive,
// polls.
func newReplyPoll(window time.Duration) *replyPoll {
	return &replyPoll{window: max(window, 0), maxPollers: int32(runtime.GOMAXPROCS(0) - 1)}
}

// quiet reports whether so few calls await replies on the direct client
// that one more may be read on its caller's goroutine without keeping
// others' replies waiting: fewer than the processors left for them (at
// least one).
func (p *replyPoll) quiet() bool { return p.waiting.Load() < max(p.maxPollers, 1) }

// callSent notes a call under way, awaiting its reply.
func (p *replyPoll) callSent() {
	if p != nil {
		p.waiting.Add(1)
	}
}

// replied notes that a call's wait for its reply ended.
func (p *replyPoll) replied() {
	if p != nil {
		p.waiting.Add(-1)
	}
}

// begin reports whether a read, whose call is one of those waiting, may
// poll now; when it may, end must follow the poll.
func (p *replyPoll) begin() bool {
	if p == nil || p.window == 0 || p.waiting.Load() > p.maxPollers {
		return false
	}
	if p.pollers.Add(1) > p.maxPollers {
		p.pollers.Add(-1)
		return false
	}
	p.polls.Add(1)
	return true
}

func (p *replyPoll) end() { p.pollers.Add(-1) }

// Polls returns how many reads of the direct client have polled for their
// reply, 0 while the poll is off.
func (c *Conn) Polls() uint64 { return c.poll.polls.Load() }

// DoUntracked sends cmd, whose reply nothing keeps (no local tier needs it
// tracked), by the route that answers soonest for now: through the direct
// client (see Direct) while few of its calls await replies, so that a lone
// caller is read on its own goroutine, at best woken by the reply itself;
// else through the pipelined client, which writes many callers' commands
// together. Both reach the same node, and each call completes before the
// caller's next one, so a caller's reads still follow its writes.
func (c *Conn) DoUntracked(ctx context.Context, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	if cmd.IsReadOnly() {
		cmd = cmd.Pin() // as in DoTracked: rueidis may retry it
	}
	client := c.redis
	if c.poll.quiet() {
		client = c.direct
	}
	// Counted whichever way it goes: while many callers are out, the
	// direct calls among them neither poll nor draw more callers there.
	c.poll.callSent()
	defer c.poll.replied()
	return client.Do(ctx, cmd).ToMessage()
}

// DoUntrackedMulti sends cmds, whose keys all live in one cluster slot and
// whose replies nothing keeps, in one transaction (MULTI, cmds, EXEC) and
// one round trip, by DoUntracked's route. It returns one reply per command
// (an error reply is a message whose Error is not nil); the error is the
// transaction's.
func (c *Conn) DoUntrackedMulti(ctx context.Context, cmds ...rueidis.Completed) ([]rueidis.RedisMessage, error) {
	client := c.redis
	if c.poll.quiet() {
		client = c.direct
	}
	all := make(rueidis.Commands, 0, len(cmds)+2)
	all = append(append(append(all, c.multi), cmds...), c.exec)
	c.poll.callSent()
	defer c.poll.replied()
	return execReplies(client.DoMulti(ctx, all...), len(cmds))
}
