package counter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/tier"
)

// A Buffered adds to a Counter's counters through a buffer in this process:
// Add only sums the delta in memory, and a background goroutine sends the
// sums every BufferOptions.FlushInterval, all keys in one pipelined round
// trip per Redis node. It suits hot counters (views, likes) where a round
// trip per increment costs too much and the new value is not needed at
// once. It is safe for concurrent use by multiple goroutines.
//
// Get returns the value in Redis plus this process's unflushed delta, so a
// process reads its own increments at once; other processes see them after
// the next flush. Values read from Redis are kept in a local cache that
// Redis invalidates when the key changes (BufferOptions.DisableReadCache),
// so between flushes a hot key's Get costs no round trip.
//
// # What a crash loses
//
// A crash of the process loses the deltas added since the last successful
// flush: at most FlushInterval of increments while Redis answers, more while
// flushes fail, and never more than about 2×MaxKeys keys' deltas. Each flush
// writes every key in one script (increment and expiry together), so a crash
// during a flush leaves no key without its expiry. Close flushes: call it
// before the process exits.
//
// # When a flush fails
//
// A key whose increment Redis refused for good (ErrOverflow, or a key that
// does not hold an integer) is dropped and reported in Flush's error. Every
// other failure (a lost connection, a timeout) keeps the key's delta for the
// next flush. Such a failure can hide a success whose reply was lost, so a
// delta may then be counted twice: deltas are applied at least once.
type Buffered struct {
	counter *Counter
	opts    BufferOptions
	cache   *tier.Tier[int64] // values read from Redis, by the caller's key; nil when off
	stopSub func()            // the cache's subscription

	flushMu sync.Mutex // one flush at a time

	mu        sync.Mutex
	pending   map[string]int64 // deltas not sent yet, by key
	inflight  map[string]int64 // deltas of the flush in flight; nil when none
	flushDone chan struct{}    // closed when the flush in flight ends
	swaps     uint64           // flushes begun: a read that spans one retries
	closed    bool

	kick    chan struct{} // asks the flusher for an early flush
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed when the flusher has returned

	hooks bufferedHooks // set by tests only
}

// bufferedHooks let tests stop a Buffered at the points where races matter.
type bufferedHooks struct {
	flushSending func() // a flush has taken its batch and is about to send it
	getReading   func() // Get has read the pending delta and is about to read Redis
}

// backgroundFlushTimeout bounds a flush of the background flusher, at least.
const backgroundFlushTimeout = 5 * time.Second

// Buffered returns a buffered view of c's counters and starts its flusher.
// Close it to flush and stop. It fails, naming the field, when opts is
// invalid, and with ErrClosed when c's typecache.Client is closed; opts is
// not modified.
func (c *Counter) Buffered(opts BufferOptions) (*Buffered, error) {
	o, err := opts.validated()
	if err != nil {
		return nil, err
	}
	if c.conn.Closed() {
		return nil, fmt.Errorf("%w: the typecache.Client is closed", ErrClosed)
	}
	b := &Buffered{
		counter: c, opts: o, pending: make(map[string]int64),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	if !o.DisableReadCache && c.conn.Tracks(c.space.Prefix()+kindValue+"{") {
		b.cache = tier.New[int64](tier.Options{MaxEntries: o.ReadCacheSize})
		b.stopSub = c.conn.Subscribe(c.space.Prefix()+kindValue+"{", invalidations{b.cache, c.space})
	}
	go b.flusher()
	return b, nil
}

// Add adds delta (of any sign) to key's counter in the next flush. It never
// blocks and never touches Redis. It returns ErrOverflow when the key's
// unflushed sum would leave int64 (the delta is then not added),
// ErrBufferFull for a new key while MaxKeys keys wait for a flush, and
// ErrClosed after Close.
func (b *Buffered) Add(key string, delta int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.counter.conn.Closed() {
		return ErrClosed
	}
	sum, present := b.pending[key]
	if !present && len(b.pending) >= b.opts.MaxKeys {
		select {
		case b.kick <- struct{}{}:
		default:
		}
		return fmt.Errorf("%w: %d keys wait for a flush (key %q)", ErrBufferFull, len(b.pending), key)
	}
	sum, ok := addInt64(sum, delta)
	if !ok {
		return fmt.Errorf("%w: unflushed sum of %q", ErrOverflow, key)
	}
	b.pending[key] = sum
	return nil
}

// addInt64 returns a+b, and false when it overflows.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0)
}

// Get returns key's counter: its value in Redis plus this process's
// unflushed delta. A value read from Redis is cached until Redis reports a
// change of the key or this process flushes it. When a flush of key is in
// flight, Get waits for it. It returns ErrClosed after Close.
func (b *Buffered) Get(ctx context.Context, key string) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	for {
		b.mu.Lock()
		if b.closed || b.counter.conn.Closed() {
			b.mu.Unlock()
			return 0, ErrClosed
		}
		if _, flushing := b.inflight[key]; flushing {
			done := b.flushDone
			b.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return 0, fmt.Errorf("counter: get %q: waiting for a flush: %w", key, ctx.Err())
			}
		}
		pending, swaps := b.pending[key], b.swaps
		b.mu.Unlock()
		if b.hooks.getReading != nil {
			b.hooks.getReading()
		}

		stored, err := b.stored(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("counter: get %q: %w", key, err)
		}
		b.mu.Lock()
		moved := b.swaps != swaps
		b.mu.Unlock()
		if moved {
			continue // a flush began: stored may hold pending already
		}
		v, ok := addInt64(stored, pending)
		if !ok {
			return 0, fmt.Errorf("%w: %q with its unflushed delta", ErrOverflow, key)
		}
		return v, nil
	}
}

// stored returns the value of key's counter in Redis, from the read cache
// when it holds it. The read cache is internal/tier's: it is its own map
// rather than rueidis's DoCache, because a DoCache entry can be older than
// this process's own completed write (the invalidation of a write may
// arrive after the write's reply: rueidis issue #534).
func (b *Buffered) stored(ctx context.Context, key string) (int64, error) {
	if b.cache == nil {
		return parseValue(do(ctx, b.counter.conn, b.counter.getCmd(b.counter.redisKey(key))))
	}
	if e := b.cache.Get(key); e != nil {
		b.counter.opts.Observer.OnRead(true)
		return e.Value, nil
	}
	b.counter.opts.Observer.OnRead(false)
	tk := b.cache.Begin(key)
	// Not pinned: DoTracked sends it inside MULTI/EXEC, which rueidis never
	// retries.
	get := b.counter.redis.B().Get().Key(b.counter.redisKey(key)).Build()
	v, err := parseValue(clientconn.Guard(ctx, b.counter.conn, commandKey(get), errCircuitOpen, ErrClosed, func() (rueidis.RedisMessage, error) {
		return b.counter.conn.DoTracked(ctx, get)
	}))
	if err == nil {
		e := b.cache.NewEntry(key, tier.Meta{Weight: 1})
		e.Value = v
		b.cache.Fill(tk, e)
	}
	return v, err
}

// invalidations passes Redis's invalidations of a counter's value keys to
// a read cache, which is keyed by the callers' keys.
type invalidations struct {
	cache *tier.Tier[int64]
	space keyspace.Space
}

func (i invalidations) Invalidate(rkey string) {
	if kind, key, ok := i.space.Parse(rkey); ok && kind == kindValue {
		i.cache.Invalidate(key)
	}
}

func (i invalidations) InvalidateAll() { i.cache.InvalidateAll() }

// Flush sends every delta added before the call, in one pipelined round
// trip per Redis node, and returns when Redis has answered. A flush already
// in flight finishes first. See the type's doc for what a failure does with
// the deltas. Flush works after Close too.
func (b *Buffered) Flush(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()

	b.mu.Lock()
	batch := b.pending
	if len(batch) == 0 {
		b.mu.Unlock()
		return nil
	}
	b.pending = make(map[string]int64, len(batch))
	done := make(chan struct{})
	b.inflight, b.flushDone = batch, done
	b.swaps++
	b.mu.Unlock()

	if b.hooks.flushSending != nil {
		b.hooks.flushSending()
	}
	start := time.Now()
	keys := make([]string, 0, len(batch))
	rkeys := make([][]string, 0, len(batch))
	args := make([][]string, 0, len(batch))
	for key, delta := range batch {
		keys = append(keys, key)
		rkeys = append(rkeys, []string{b.counter.redisKey(key)})
		args = append(args, addArgs(delta, b.counter.ttl))
	}
	results := roundTrips(ctx, b.counter.conn, len(rkeys), func(i int) string { return rkeys[i][0] },
		func(keep []int) []rueidis.RedisResult {
			return addScript.ExecMany(ctx, b.counter.redis, pick(rkeys, keep), pick(args, keep))
		})

	var dropped []error
	var kept int
	var keptErr error
	b.mu.Lock()
	for i, key := range keys {
		if b.cache != nil {
			b.cache.OwnWrite(key)
		}
		_, err := addReply(results[i].ToMessage())
		switch {
		case err == nil:
		case permanent(err):
			dropped = append(dropped, fmt.Errorf("counter: flush %q: delta %d dropped: %w", key, batch[key], err))
		default:
			kept++
			keptErr = err
			if sum, ok := addInt64(b.pending[key], batch[key]); ok {
				b.pending[key] = sum
			} else {
				dropped = append(dropped, fmt.Errorf("counter: flush %q: delta %d dropped: %w", key, batch[key], ErrOverflow))
			}
		}
	}
	b.inflight = nil
	close(done)
	b.mu.Unlock()

	if kept > 0 {
		dropped = append(dropped, fmt.Errorf("counter: flush: %d of %d keys kept for the next flush: %w", kept, len(keys), keptErr))
	}
	err := errors.Join(dropped...)
	b.counter.opts.Observer.OnFlush(len(keys), time.Since(start), err)
	return err
}

// permanent reports whether Redis refused an increment in a way a retry
// cannot change.
func permanent(err error) bool {
	if errors.Is(err, ErrOverflow) {
		return true
	}
	re, ok := rueidis.IsRedisErr(err)
	return ok && (strings.HasPrefix(re.Error(), "WRONGTYPE") || strings.Contains(re.Error(), "not an integer"))
}

// flusher flushes every FlushInterval, and early when Add asks, until Close.
func (b *Buffered) flusher() {
	defer close(b.stopped)
	ticker := time.NewTicker(b.opts.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-ticker.C:
		case <-b.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(b.opts.FlushInterval, backgroundFlushTimeout))
		_ = b.Flush(ctx) // its errors reach the Observer, and its kept deltas the next flush
		cancel()
	}
}

// Close stops the flusher, then flushes what is left, bounded by ctx. After
// Close, Add and Get return ErrClosed, as every call does once the
// typecache.Client is closed (close the Buffered first, so that its last
// flush can reach Redis). When the final flush fails, Close
// returns its error and the deltas it kept stay pending: call Flush or Close
// again to retry.
func (b *Buffered) Close(ctx context.Context) error {
	b.mu.Lock()
	first := !b.closed
	b.closed = true
	b.mu.Unlock()
	if first {
		close(b.stop)
		if b.stopSub != nil {
			b.stopSub()
			b.cache.Close() // no invalidation arrives any more
		}
	}
	select {
	case <-b.stopped:
	case <-ctx.Done():
		return fmt.Errorf("counter: close: waiting for a flush in flight: %w", ctx.Err())
	}
	return b.Flush(ctx)
}
