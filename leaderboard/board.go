package leaderboard

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/transport"
)

// Key kinds of the leaderboard package (see internal/keyspace): a board's
// sorted set and its hash of tie codes; the id is the board's period label.
const (
	kindSet  = "z"
	kindHash = "h"
)

// Entry is one member's place on a board.
type Entry struct {
	// Member is the member's name.
	Member string
	// Score is the member's score.
	Score float64
	// Rank is the member's place, 1-based: the first entry of Top has
	// Rank 1.
	Rank int64
}

// A Board is a named leaderboard in Redis: members ranked by a float64
// score, ties ranked by who reached the score first, bounded by
// Options.MaxSize. It is safe for concurrent use by multiple goroutines.
// Every call is one round trip (Top none when its cache answers) and
// atomic; a board's keys live in one cluster slot. Every process that builds
// a Board with the same name on the same Redis deployment shares it.
//
// A periodic board (Options.Period) is a new board every period, picked
// with the clock of the process that calls; At reads and writes the board of
// another time.
type Board struct {
	conn  *transport.Conn
	redis rueidis.Client
	send  rediscmd.Sender // conn.DoUntracked
	space keyspace.Space
	opts  Options
	order string // the scripts' ARGV[1]
	max   string // Options.MaxSize, the write scripts' ARGV[4]
	now   func() time.Time

	current atomic.Pointer[boardKeys] // the keys of the current period, once used
	fixed   *boardKeys                // an At view's keys; nil: the current period's

	top         *topCache    // nil when off, and in At views
	closed      *atomic.Bool // set by Close; shared with the At views
	unsubscribe func()
	topRead     func() // set by tests only: Top has read Redis and is about to cache it
}

// New returns the board called name (letters, digits, '.', '_', '-' and
// '@'; it is part of every key) in c's Redis deployment. It fails, naming
// the field, when name or opts is invalid; opts is not modified.
func New(c *typecache.Client, name string, opts Options) (*Board, error) {
	if c == nil {
		return nil, invalid("New needs a *typecache.Client, got nil")
	}
	space, err := keyspace.New(keyspace.Leaderboard, name)
	if err != nil {
		return nil, invalid("name %v", err)
	}
	o, err := opts.validated()
	if err != nil {
		return nil, err
	}
	conn, err := clientconn.Live(c, ErrClosed)
	if err != nil {
		return nil, err
	}
	o.Observer = observe.Named(o.Observer, name, Observer(NoopObserver{}))
	b := &Board{
		conn: conn, closed: new(atomic.Bool), redis: c.Redis(), send: conn.DoUntracked, space: space, opts: o,
		order: "h", max: strconv.Itoa(o.MaxSize), now: time.Now,
	}
	if o.Order == LowestFirst {
		b.order = "l"
	}
	if !o.DisableTopCache && b.conn.Tracks(space.Prefix()+kindSet+"{") {
		b.top = newTopCache()
		b.unsubscribe = c.Subscribe(space.Prefix()+kindSet+"{", b.top)
	}
	return b, nil
}

// Options returns the board's options with the defaults filled in.
func (b *Board) Options() Options { return b.opts }

// At returns a view of the board of the period that holds t: for a
// periodic board, yesterday's or last week's board; for an AllTime board,
// the board itself. The view shares b's options; its Top is never cached.
func (b *Board) At(t time.Time) *Board {
	if b.opts.Period == AllTime {
		return b
	}
	return &Board{
		conn: b.conn, closed: b.closed, redis: b.redis, send: b.send, space: b.space, opts: b.opts,
		order: b.order, max: b.max, now: b.now, fixed: b.keysAt(t),
	}
}

// Close ends the board: it stops the Top cache's subscription to
// invalidations and drops the cache, and every later call of the board and
// of its At views returns an error wrapping ErrClosed without contacting
// Redis. Calls in flight finish. Close does not close the
// typecache.Client; calls after the first, and on At views, do nothing.
func (b *Board) Close() {
	if b.fixed != nil || b.closed.Swap(true) {
		return
	}
	if b.unsubscribe != nil {
		b.unsubscribe()
		b.top.tier.Close() // no invalidation arrives any more
	}
}

// refused returns errClosed once the board or its client is closed.
func (b *Board) refused() error {
	if b.closed.Load() || b.conn.Closed() {
		return errClosed
	}
	return nil
}

// boardKeys are the keys of one period's board.
type boardKeys struct {
	set, hash  string
	label      string
	start, end time.Time // the period; zero for AllTime
	until      time.Time // when a periodic board's keys expire
	expiry     [2]string // the write scripts' ARGV[2] and ARGV[3]
}

// keys returns the keys of the current period's board, or the At view's.
func (b *Board) keys() *boardKeys {
	if b.fixed != nil {
		return b.fixed
	}
	k := b.current.Load()
	if k == nil || b.opts.Period != AllTime && !inPeriod(k, b.now()) {
		k = b.keysAt(b.now())
		b.current.Store(k)
	}
	return k
}

func inPeriod(k *boardKeys, t time.Time) bool { return !t.Before(k.start) && t.Before(k.end) }

// keysAt returns the keys of the board of the period that holds t.
func (b *Board) keysAt(t time.Time) *boardKeys {
	label, start, end := periodOf(b.opts.Period, b.opts.Location, t)
	k := &boardKeys{set: b.space.Key(kindSet, label), hash: b.space.Key(kindHash, label), label: label, start: start, end: end}
	switch {
	case b.opts.Persistent:
	case b.opts.Period == AllTime:
		k.expiry = [2]string{"px", rediscmd.Millis(b.opts.TTL)}
	default:
		k.until = end.Add(b.opts.TTL)
		k.expiry = [2]string{"pxat", strconv.FormatInt(k.until.UnixMilli(), 10)}
	}
	return k
}

// Add sets member's score, whatever it was. A member whose score changes
// ranks after the members that already had the new score.
func (b *Board) Add(ctx context.Context, member string, score float64) error {
	_, err := b.add(ctx, member, score, "set")
	return err
}

// AddIfBetter sets member's score only when it ranks better than the
// member's current one (higher for HighestFirst, lower for LowestFirst) or
// the member is absent, and reports whether it did: a best score per
// member. On a full board, a new member that ranks last is removed again at
// once.
func (b *Board) AddIfBetter(ctx context.Context, member string, score float64) (bool, error) {
	return b.add(ctx, member, score, "best")
}

func (b *Board) add(ctx context.Context, member string, score float64, mode string) (bool, error) {
	if err := checkMember(member); err != nil {
		return false, err
	}
	if err := checkScore(score); err != nil {
		return false, fmt.Errorf("%w, got %v (member %q)", err, score, member)
	}
	reply, err := b.write(ctx, addScript, member, strconv.FormatFloat(score, 'g', -1, 64), mode)
	if err != nil {
		return false, fmt.Errorf("leaderboard: add %q: %w", member, err)
	}
	changed, err := reply[0].AsInt64()
	if err != nil {
		return false, fmt.Errorf("leaderboard: add %q: %w", member, err)
	}
	return changed == 1, nil
}

// Incr adds delta (of any sign) to member's score, 0 when absent, and
// returns the new score. The sum is the float64 sum Redis's ZINCRBY would
// compute; a sum that is not finite is ErrInvalidScore, and the score is
// unchanged. On a full board, a new member that ranks last is removed
// again at once; Incr still returns the score it computed.
func (b *Board) Incr(ctx context.Context, member string, delta float64) (float64, error) {
	if err := checkMember(member); err != nil {
		return 0, err
	}
	if err := checkScore(delta); err != nil {
		return 0, fmt.Errorf("%w, got delta %v (member %q)", err, delta, member)
	}
	reply, err := b.write(ctx, incrScript, member, strconv.FormatFloat(delta, 'g', -1, 64), "")
	if err != nil {
		if re, ok := rueidis.IsRedisErr(err); ok && strings.Contains(re.Error(), "score out of range") {
			err = fmt.Errorf("%w: %q plus %v", ErrInvalidScore, member, delta)
		}
		return 0, fmt.Errorf("leaderboard: incr %q: %w", member, err)
	}
	score, err := reply[0].AsFloat64()
	if err != nil {
		return 0, fmt.Errorf("leaderboard: incr %q: %w", member, err)
	}
	return score, nil
}

// write runs a write script, whose reply is {result, members trimmed}, and
// then drops the Top cache: the write's reply may come before Redis's
// invalidation of the board.
func (b *Board) write(ctx context.Context, script *rediscmd.Script, member, value, mode string) ([]rueidis.RedisMessage, error) {
	k := b.keys()
	if !k.until.IsZero() && !k.until.After(b.now()) {
		return nil, fmt.Errorf("%w: board %s ended at %v", ErrPeriodOver, k.label, k.until)
	}
	msg, err := b.exec(ctx, script, k, []string{b.order, k.expiry[0], k.expiry[1], b.max, member, value, mode})
	if b.top != nil {
		b.top.tier.OwnWrite(k.set)
	}
	if err != nil {
		return nil, err
	}
	reply, err := msg.ToArray()
	if err == nil && len(reply) != 2 {
		err = fmt.Errorf("unexpected reply %v", msg)
	}
	if err != nil {
		return nil, err
	}
	if trimmed, _ := reply[1].AsInt64(); trimmed > 0 {
		b.opts.Observer.OnTrim(int(trimmed))
	}
	return reply, nil
}

// Score returns member's score, or ErrNotFound.
func (b *Board) Score(ctx context.Context, member string) (float64, error) {
	e, err := b.lookup(ctx, member)
	return e.Score, err
}

// Rank returns member's 1-based rank (the first entry of Top has rank 1),
// or ErrNotFound.
func (b *Board) Rank(ctx context.Context, member string) (int64, error) {
	e, err := b.lookup(ctx, member)
	return e.Rank, err
}

func (b *Board) lookup(ctx context.Context, member string) (Entry, error) {
	if err := checkMember(member); err != nil {
		return Entry{}, err
	}
	k := b.keys()
	msg, err := b.exec(ctx, lookupScript, k, []string{b.order, member})
	if err != nil {
		return Entry{}, b.readError(member, err)
	}
	reply, err := msg.ToArray()
	if err != nil || len(reply) != 2 {
		return Entry{}, fmt.Errorf("leaderboard: %q: unexpected reply %v (%v)", member, msg, err)
	}
	rank, err := reply[0].AsInt64()
	if err != nil {
		return Entry{}, fmt.Errorf("leaderboard: %q: %w", member, err)
	}
	score, err := reply[1].AsFloat64()
	if err != nil {
		return Entry{}, fmt.Errorf("leaderboard: %q: %w", member, err)
	}
	return Entry{Member: member, Score: score, Rank: rank + 1}, nil
}

// readError turns a nil reply into ErrNotFound.
func (b *Board) readError(member string, err error) error {
	if rueidis.IsRedisNil(err) {
		return fmt.Errorf("%w: %q", ErrNotFound, member)
	}
	return fmt.Errorf("leaderboard: %q: %w", member, err)
}

// Top returns the first n entries (fewer when the board is smaller), best
// first. On the current board it is served from a local cache while Redis
// reports no change of the board (Options.DisableTopCache): a change made
// by this process is seen at once, another process's change after Redis's
// invalidation reaches this one.
func (b *Board) Top(ctx context.Context, n int) ([]Entry, error) {
	if err := checkCount(n); err != nil {
		return nil, err
	}
	if b.top == nil {
		b.opts.Observer.OnTop(false)
		return b.Page(ctx, 0, n)
	}
	if err := b.refused(); err != nil { // before the cache: nothing is served after Close
		return nil, fmt.Errorf("leaderboard: top %d: %w", n, err)
	}
	n = min(n, maxCount)
	set := b.keys().set
	entries, ok := b.top.get(set, n)
	b.opts.Observer.OnTop(ok)
	if ok {
		return entries, nil
	}
	if !b.top.fill() {
		entries, err := b.readRange(ctx, set, 0, n)
		b.top.readUntracked(set)
		if err != nil {
			return nil, fmt.Errorf("leaderboard: top %d: %w", n, err)
		}
		return entries, nil
	}
	tk := b.top.tier.Begin(set)
	// Not pinned: DoTracked sends it inside MULTI/EXEC, which rueidis never
	// retries.
	msg, err := b.guard(ctx, set, func() (rueidis.RedisMessage, error) { return b.conn.DoTracked(ctx, b.rangeCmd(set, 0, n)) })
	entries, err = parseRange(msg, err, 0)
	if err != nil {
		return nil, fmt.Errorf("leaderboard: top %d: %w", n, err)
	}
	if b.topRead != nil {
		b.topRead()
	}
	b.top.put(tk, set, n, entries)
	return entries, nil
}

// Page returns n entries (fewer at the end of the board) from the 0-based
// offset: Page(ctx, 0, 10) is the first ten, Page(ctx, 10, 10) the next.
func (b *Board) Page(ctx context.Context, offset, n int) ([]Entry, error) {
	if err := checkCount(n); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: offset must be >= 0, got %d", ErrInvalidCount, offset)
	}
	offset, n = min(offset, maxCount), min(n, maxCount)
	entries, err := b.readRange(ctx, b.keys().set, offset, n)
	if err != nil {
		return nil, fmt.Errorf("leaderboard: page %d+%d: %w", offset, n, err)
	}
	return entries, nil
}

// readRange reads n entries of the sorted set from the 0-based rank offset,
// untracked (see Board.do).
func (b *Board) readRange(ctx context.Context, set string, offset, n int) ([]Entry, error) {
	msg, err := b.do(ctx, set, rediscmd.Retried(b.rangeCmd(set, offset, n)))
	return parseRange(msg, err, int64(offset))
}

// rangeCmd reads n entries from the 0-based rank offset, best first.
func (b *Board) rangeCmd(set string, offset, n int) rueidis.Completed {
	r := b.redis.B().Zrange().Key(set).Min(strconv.Itoa(offset)).Max(strconv.Itoa(offset + n - 1))
	if b.opts.Order == HighestFirst {
		return r.Rev().Withscores().Build()
	}
	return r.Withscores().Build()
}

// parseRange reads a ZRANGE ... WITHSCORES reply whose first entry has the
// 0-based rank offset: pairs of member and score, nested (RESP3) or flat
// (RESP2). It reads the reply in place, allocating only the entries.
func parseRange(msg rueidis.RedisMessage, err error, offset int64) ([]Entry, error) {
	if err != nil {
		return nil, err
	}
	elems, err := msg.ToArray()
	if err != nil {
		return nil, err
	}
	nested := len(elems) > 0 && elems[0].IsArray()
	n := len(elems)
	if !nested {
		if n%2 != 0 {
			return nil, fmt.Errorf("a reply of %d elements is not member and score pairs", n)
		}
		n /= 2
	}
	entries := make([]Entry, n)
	for i := range entries {
		var member, score rueidis.RedisMessage
		if nested {
			pair, err := elems[i].ToArray()
			if err != nil || len(pair) != 2 {
				return nil, fmt.Errorf("reply element %d is not a member and score pair", i)
			}
			member, score = pair[0], pair[1]
		} else {
			member, score = elems[2*i], elems[2*i+1]
		}
		m, err := member.ToString()
		if err != nil {
			return nil, err
		}
		if len(m) <= codeLen {
			return nil, fmt.Errorf("element %q is not a member after its tie code", m)
		}
		v, err := score.AsFloat64()
		if err != nil {
			return nil, err
		}
		entries[i] = Entry{Member: m[codeLen:], Score: v, Rank: offset + int64(i) + 1}
	}
	return entries, nil
}

// codeLen is the length of the tie code that starts every element.
const codeLen = 16

// Around returns the entries from n above member to n below it (fewer at
// the ends of the board), best first, or ErrNotFound when member is not on
// the board.
func (b *Board) Around(ctx context.Context, member string, n int) ([]Entry, error) {
	if err := checkMember(member); err != nil {
		return nil, err
	}
	if err := checkCount(n); err != nil {
		return nil, err
	}
	k := b.keys()
	msg, err := b.exec(ctx, aroundScript, k, []string{b.order, member, strconv.Itoa(min(n, maxCount))})
	if err != nil {
		return nil, b.readError(member, err)
	}
	reply, err := msg.ToArray()
	if err != nil || len(reply) != 2 {
		return nil, fmt.Errorf("leaderboard: around %q: unexpected reply %v (%v)", member, msg, err)
	}
	first, err := reply[0].AsInt64()
	if err != nil {
		return nil, fmt.Errorf("leaderboard: around %q: %w", member, err)
	}
	entries, err := parseRange(reply[1], nil, first)
	if err != nil {
		return nil, fmt.Errorf("leaderboard: around %q: %w", member, err)
	}
	return entries, nil
}

// Remove removes members from the board; absent ones are ignored.
func (b *Board) Remove(ctx context.Context, members ...string) error {
	if len(members) == 0 {
		return nil
	}
	for i, m := range members {
		if err := checkMember(m); err != nil {
			return fmt.Errorf("%w (members[%d])", err, i)
		}
	}
	k := b.keys()
	_, err := b.exec(ctx, removeScript, k, append([]string{b.order}, members...))
	if b.top != nil {
		b.top.tier.OwnWrite(k.set)
	}
	if err != nil {
		return fmt.Errorf("leaderboard: remove: %w", err)
	}
	return nil
}

// Len returns how many members the board holds.
func (b *Board) Len(ctx context.Context) (int64, error) {
	set := b.keys().set
	msg, err := b.do(ctx, set, rediscmd.Retried(b.redis.B().Zcard().Key(set).Build()))
	var n int64
	if err == nil {
		n, err = msg.AsInt64()
	}
	if err != nil {
		return 0, fmt.Errorf("leaderboard: len: %w", err)
	}
	return n, nil
}

func checkMember(member string) error {
	if member == "" {
		return ErrEmptyKey
	}
	return nil
}

func checkScore(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return ErrInvalidScore
	}
	return nil
}

func checkCount(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: n must be >= 1, got %d", ErrInvalidCount, n)
	}
	return nil
}
