package counter

import (
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/keyspace"
)

// Defaults used for zero fields of [BufferOptions] and limits of
// [WindowOptions].
const (
	// DefaultFlushInterval is how often a Buffered flushes when
	// BufferOptions.FlushInterval is zero.
	DefaultFlushInterval = time.Second
	// DefaultMaxKeys bounds the keys a Buffered holds when
	// BufferOptions.MaxKeys is zero.
	DefaultMaxKeys = 100_000
	// DefaultReadCacheSize bounds the values a Buffered's read cache holds
	// when BufferOptions.ReadCacheSize is zero.
	DefaultReadCacheSize = 10_000
	// MaxWindows bounds WindowOptions.Keep: Last reads its windows in one
	// command.
	MaxWindows = 10_000
)

// Options configures a [Counter]. TTL must be set. New copies the options;
// the caller's value is never modified.
type Options struct {
	// TTL is how long a counter lives, fixed from its first increment: the
	// script that creates a counter's key sets its expiry in the same step,
	// and later increments do not extend it. When it expires the counter
	// starts again from 0. At least 1 ms; whole milliseconds.
	TTL time.Duration
	// Observer is told about flushes and cached reads of the counter's
	// Buffered views; nil means none.
	Observer Observer
}

// validated returns o with the defaults filled in, or an error naming the
// invalid field.
func (o Options) validated() (Options, error) {
	if o.TTL < time.Millisecond {
		return o, invalid("Options.TTL must be at least 1ms (every counter key expires), got %v", o.TTL)
	}
	o.TTL = o.TTL.Truncate(time.Millisecond)
	if o.Observer == nil {
		o.Observer = NoopObserver{}
	}
	return o, nil
}

// BufferOptions configures a [Buffered]. The zero value is valid: every
// zero field means the documented default.
type BufferOptions struct {
	// FlushInterval is how often the buffered increments are sent to Redis,
	// and so bounds how many a crash can lose (see Buffered). Default
	// DefaultFlushInterval (1 s); at least 1 ms.
	FlushInterval time.Duration
	// MaxKeys bounds how many distinct keys wait for a flush. When it is
	// reached, Add of a new key returns ErrBufferFull and asks for an early
	// flush. Default DefaultMaxKeys.
	MaxKeys int
	// DisableReadCache turns off the local cache of values read from Redis.
	// The cache is on by default when the client tracks reads
	// (typecache.Client.Tracking); it is always off otherwise.
	DisableReadCache bool
	// ReadCacheSize bounds the read cache in values. Default
	// DefaultReadCacheSize.
	ReadCacheSize int
}

func (o BufferOptions) validated() (BufferOptions, error) {
	switch {
	case o.FlushInterval < 0 || o.FlushInterval > 0 && o.FlushInterval < time.Millisecond:
		return o, invalid("BufferOptions.FlushInterval must be 0 (default) or at least 1ms, got %v", o.FlushInterval)
	case o.MaxKeys < 0:
		return o, invalid("BufferOptions.MaxKeys must be >= 0, got %d", o.MaxKeys)
	case o.ReadCacheSize < 0:
		return o, invalid("BufferOptions.ReadCacheSize must be >= 0, got %d", o.ReadCacheSize)
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.ReadCacheSize == 0 {
		o.ReadCacheSize = DefaultReadCacheSize
	}
	return o, nil
}

// WindowOptions configures a [Windowed] counter. Window and Keep must be
// set. NewWindowed copies the options.
type WindowOptions struct {
	// Window is the length of one window, at least 1 ms, in whole
	// milliseconds. Windows are aligned on the Unix epoch: a minute window
	// starts at each whole minute (UTC).
	Window time.Duration
	// Keep is how many windows, the current one included, are kept and can
	// be read: each window's key expires (Keep+1)×Window after its first
	// increment. 1 to MaxWindows.
	Keep int
}

func (o WindowOptions) validated() (WindowOptions, error) {
	switch {
	case o.Window < time.Millisecond:
		return o, invalid("WindowOptions.Window must be at least 1ms, got %v", o.Window)
	case o.Keep < 1 || o.Keep > MaxWindows:
		return o, invalid("WindowOptions.Keep must be 1 to %d, got %d", MaxWindows, o.Keep)
	case o.Window > time.Duration(1<<62)/time.Duration(o.Keep+1):
		return o, invalid("WindowOptions.Window×(Keep+1) must fit a time.Duration, got %v×%d", o.Window, o.Keep+1)
	}
	o.Window = o.Window.Truncate(time.Millisecond)
	return o, nil
}

// checkArgs checks the arguments every constructor takes: a client, the
// name of a set of counters, and options, which it returns validated.
func checkArgs[O interface{ validated() (O, error) }](constructor string, c *typecache.Client, name string, opts O) (keyspace.Space, O, error) {
	if c == nil {
		return keyspace.Space{}, opts, invalid("%s needs a *typecache.Client, got nil", constructor)
	}
	space, err := keyspace.New(keyspace.Counter, name)
	if err != nil {
		return space, opts, invalid("name %v", err)
	}
	o, err := opts.validated()
	if err == nil {
		_, err = clientconn.Live(c, ErrClosed)
	}
	return space, o, err
}

func checkKey(key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	return nil
}
