package leaderboard

import (
	"strconv"
	"time"
)

// Order says which end of a board ranks first. The zero value is
// [HighestFirst].
type Order int

const (
	// HighestFirst ranks the highest score first (points, wins). The default.
	HighestFirst Order = iota
	// LowestFirst ranks the lowest score first (times, strokes).
	LowestFirst
)

// String returns "highest-first" or "lowest-first".
func (o Order) String() string {
	switch o {
	case HighestFirst:
		return "highest-first"
	case LowestFirst:
		return "lowest-first"
	}
	return "Order(" + strconv.Itoa(int(o)) + ")"
}

// Period makes a board periodic: a new, empty board for every day, week or
// month, each in keys of its own. The zero value is [AllTime].
type Period int

const (
	// AllTime is one board that never starts again. The default.
	AllTime Period = iota
	// Daily starts a board at every midnight in Options.Location.
	Daily
	// Weekly starts a board every Monday at midnight in Options.Location
	// (ISO weeks).
	Weekly
	// Monthly starts a board on the first of every month at midnight in
	// Options.Location.
	Monthly
)

// String returns the period's name.
func (p Period) String() string {
	switch p {
	case AllTime:
		return "all-time"
	case Daily:
		return "daily"
	case Weekly:
		return "weekly"
	case Monthly:
		return "monthly"
	}
	return "Period(" + strconv.Itoa(int(p)) + ")"
}

// DefaultMaxSize bounds a board when Options.MaxSize is zero.
const DefaultMaxSize = 10_000

// maxCount bounds the n of Top, Around and Page (and Page's offset): a
// board never holds more members, so larger values read the same entries.
const maxCount = 1 << 32

// Options configures a [Board]. TTL must be set unless Persistent is true;
// every other zero field means the documented default. New copies the
// options; the caller's value is never modified.
type Options struct {
	// Order is which end ranks first; the zero value is HighestFirst.
	Order Order
	// MaxSize bounds how many members the board holds. A write that takes
	// the board past it removes, in the same atomic step, the members that
	// rank last: the worst score, and among equal scores the latest to
	// reach it. Default DefaultMaxSize (10,000).
	MaxSize int
	// TTL is how long the board is kept. For an AllTime board it slides:
	// every write keeps the board for TTL from then. For a periodic board
	// it counts from the end of the board's period: yesterday's daily
	// board stays readable for TTL after midnight. At least 1 ms; must be
	// 0 with Persistent.
	TTL time.Duration
	// Persistent keeps the board's keys without expiry. It must be said by
	// name: every other key typecache writes expires.
	Persistent bool
	// Period makes the board periodic; the zero value is AllTime.
	Period Period
	// Location is the time zone whose midnights start periodic boards.
	// Default UTC.
	Location *time.Location
	// DisableTopCache turns off the local cache of Top. The cache is on by
	// default when the client tracks reads (typecache.Client.Tracking); it
	// is always off otherwise. A Board whose cached Tops keep being dropped
	// by writes before anyone reads them reads untracked but for rare
	// tries, so the cache costs little on a board written before every Top.
	DisableTopCache bool
	// Observer is told about Top reads and trims; nil means none.
	Observer Observer
}

func (o Options) validated() (Options, error) {
	switch {
	case o.Order != HighestFirst && o.Order != LowestFirst:
		return o, invalid("Options.Order is unknown: %d", int(o.Order))
	case o.Period < AllTime || o.Period > Monthly:
		return o, invalid("Options.Period is unknown: %d", int(o.Period))
	case o.MaxSize < 0:
		return o, invalid("Options.MaxSize must be >= 0, got %d", o.MaxSize)
	case o.Persistent && o.TTL != 0:
		return o, invalid("Options.TTL must be 0 with Options.Persistent, got %v", o.TTL)
	case !o.Persistent && o.TTL < time.Millisecond:
		return o, invalid("Options.TTL must be at least 1ms, or Options.Persistent true (every key expires unless said otherwise), got %v", o.TTL)
	}
	o.TTL = o.TTL.Truncate(time.Millisecond)
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Observer == nil {
		o.Observer = NoopObserver{}
	}
	return o, nil
}
