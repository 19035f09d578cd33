package counter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/transport"
)

// A Windowed counts per fixed window of time ("views per minute"): each key
// has one counter per window, in a Redis key of its own that expires once
// the window has left the last WindowOptions.Keep windows. It is safe for
// concurrent use by multiple goroutines; every call is one round trip, and
// the windows of one key live in one cluster slot, so Last reads them with
// one command. Like a Counter it holds nothing of its own and has no
// Close: once its typecache.Client is closed, every call returns
// ErrClosed.
//
// Windows are aligned on the Unix epoch and picked with the clock of the
// process that counts: processes whose clocks differ by d count increments
// made within d of a window's edge into different windows.
type Windowed struct {
	conn   *transport.Conn
	redis  rueidis.Client
	send   rediscmd.Sender // conn.DoUntracked
	space  keyspace.Space
	opts   WindowOptions
	kind   string // kindWindow + the window's length in ms + "."
	ttl    string // expiry of a window's key in ms: (Keep+1) windows
	window int64  // ms
	now    func() time.Time
}

// Window is the count of one window.
type Window struct {
	// Start is when the window began (in UTC).
	Start time.Time
	// Count is the sum of the increments counted in the window.
	Count int64
}

// NewWindowed returns the windowed counters called name (the same rule as
// New's name; windowed and plain counters of one name do not share keys) in
// c's Redis deployment. It fails, naming the field, when name or opts is
// invalid; opts is not modified.
func NewWindowed(c *typecache.Client, name string, opts WindowOptions) (*Windowed, error) {
	space, o, err := checkArgs("NewWindowed", c, name, opts)
	if err != nil {
		return nil, err
	}
	window := o.Window.Milliseconds()
	conn := clientconn.Of(c)
	return &Windowed{
		conn: conn, redis: c.Redis(), send: conn.DoUntracked, space: space, opts: o, window: window,
		// The window's length is part of the key, so windows of another
		// length under the same name are never mixed.
		kind: kindWindow + strconv.FormatInt(window, 10) + ".",
		ttl:  rediscmd.Millis(o.Window * time.Duration(o.Keep+1)),
		now:  time.Now,
	}, nil
}

// Options returns the options of w.
func (w *Windowed) Options() WindowOptions { return w.opts }

// Add adds delta (of any sign) to key's count in the current window and
// returns the window's new count. A result outside int64 is ErrOverflow,
// and the count is unchanged.
func (w *Windowed) Add(ctx context.Context, key string, delta int64) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	v, err := add(ctx, w.conn, w.redis, w.send, w.windowKey(key, w.index(w.now())), delta, w.ttl)
	if err != nil {
		return 0, fmt.Errorf("counter: add to %q: %w", key, err)
	}
	return v, nil
}

// Last returns key's counts in the last n windows (1 ≤ n ≤ Keep), oldest
// first; the last one is the current window. Windows without increments
// count 0.
func (w *Windowed) Last(ctx context.Context, key string, n int) ([]Window, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if n < 1 || n > w.opts.Keep {
		return nil, fmt.Errorf("%w: n must be 1 to %d (WindowOptions.Keep), got %d", ErrInvalidCount, w.opts.Keep, n)
	}
	current := w.index(w.now())
	keys := make([]string, n)
	for i := range keys {
		keys[i] = w.windowKey(key, current-int64(n-1-i))
	}
	m, err := do(ctx, w.conn, rediscmd.Retried(w.redis.B().Mget().Key(keys...).Build()))
	var replies []rueidis.RedisMessage
	if err == nil {
		replies, err = m.ToArray()
	}
	if err == nil && len(replies) != n {
		err = fmt.Errorf("MGET returned %d values for %d keys", len(replies), n)
	}
	if err != nil {
		return nil, fmt.Errorf("counter: windows of %q: %w", key, err)
	}
	windows := make([]Window, n)
	for i, m := range replies {
		v, err := parseValue(m, m.Error())
		if err != nil {
			return nil, fmt.Errorf("counter: windows of %q: %w", key, err)
		}
		windows[i] = Window{Start: time.UnixMilli((current - int64(n-1-i)) * w.window).UTC(), Count: v}
	}
	return windows, nil
}

// Sum returns the sum of key's counts in the last n windows (1 ≤ n ≤ Keep),
// the current one included; ErrOverflow when it leaves int64.
func (w *Windowed) Sum(ctx context.Context, key string, n int) (int64, error) {
	windows, err := w.Last(ctx, key, n)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, win := range windows {
		var ok bool
		if sum, ok = addInt64(sum, win.Count); !ok {
			return 0, fmt.Errorf("%w: sum of the last %d windows of %q", ErrOverflow, n, key)
		}
	}
	return sum, nil
}

// index is the number of the window that holds t.
func (w *Windowed) index(t time.Time) int64 {
	ms := t.UnixMilli()
	i := ms / w.window
	if ms < 0 && ms%w.window != 0 {
		i-- // floor, for times before 1970
	}
	return i
}

// windowKey is the Redis key of key's count in window i.
func (w *Windowed) windowKey(key string, i int64) string {
	return w.space.Key(w.kind+strconv.FormatInt(i, 10), key)
}
