package lock

import (
	"time"

	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/rediscmd"
)

// Defaults used for zero fields of [Options].
const (
	// DefaultPrefix is the instance name when Options.Prefix is empty.
	DefaultPrefix = "default"
	// DefaultValidity is the lease when Options.Validity is zero.
	DefaultValidity = 5 * time.Second
	// DefaultRecheckInterval caps a waiter's sleep between checks when no
	// invalidation arrives (Options.RecheckInterval zero).
	DefaultRecheckInterval = time.Second
)

// Options configures a [Locker]. The zero value is valid: every zero field
// means the documented default. New copies the options; it never modifies
// the caller's value.
type Options struct {
	// Prefix is the Locker's instance name: Lockers with the same Prefix
	// on one Redis deployment share their locks, Lockers with different
	// ones never see each other's. The lock "name" lives under the key
	// "lock:<Prefix>:{name}" and its fencing counter under
	// "lock:<Prefix>:f{name}" (a '%' or '}' in name is percent-encoded).
	// 1 to 100 characters from letters, digits, '.', '_', '-' and '@'.
	// Default DefaultPrefix.
	Prefix string

	// Validity is the lease: how long a held lock survives in Redis without
	// being extended, so how long others wait after its holder dies. It is
	// a server-side relative TTL (PX), whole milliseconds, at least 1 ms.
	// Default DefaultValidity (5 s).
	Validity time.Duration

	// ExtendInterval is how often a held lock's watchdog extends the lease
	// back to Validity. It must be shorter than Validity. Default Validity/3,
	// which tolerates two failed extensions in a row.
	ExtendInterval time.Duration

	// RecheckInterval bounds how long a waiter sleeps without news. Waiters
	// are woken by Redis's invalidation of the lock key and also when the
	// key's remaining TTL runs out; RecheckInterval is the safety net for an
	// invalidation that never arrives. At least 1 ms. Default
	// DefaultRecheckInterval (1 s).
	RecheckInterval time.Duration

	// FenceTTL is the expiry of a lock's fencing counter, refreshed by every
	// acquisition and extension. Zero (the default) means the counter never
	// expires: fencing tokens then increase strictly for the life of the
	// Redis data set, at the cost of one small key per lock name ever used.
	// A positive FenceTTL (at least Validity) suits many short-lived names:
	// a name left unused for FenceTTL starts counting again from 1.
	FenceTTL time.Duration

	// Observer is told about acquisitions, waits, extensions, losses and
	// releases. Nil means none.
	Observer Observer
}

// validated returns a copy of o with every zero field set to its default,
// or an error naming the first invalid field.
func (o Options) validated() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := keyspace.CheckName(o.Prefix); err != nil {
		return o, invalid("Options.Prefix %v", err)
	}
	if o.Validity == 0 {
		o.Validity = DefaultValidity
	}
	if o.Validity < time.Millisecond {
		return o, invalid("Options.Validity must be at least 1ms, got %v", o.Validity)
	}
	o.Validity = o.Validity.Truncate(time.Millisecond)
	if o.ExtendInterval == 0 {
		o.ExtendInterval = o.Validity / 3
	}
	if o.ExtendInterval <= 0 || o.ExtendInterval >= o.Validity {
		return o, invalid("Options.ExtendInterval must be > 0 and < Validity (%v), got %v", o.Validity, o.ExtendInterval)
	}
	if o.RecheckInterval == 0 {
		o.RecheckInterval = DefaultRecheckInterval
	}
	if o.RecheckInterval < time.Millisecond {
		return o, invalid("Options.RecheckInterval must be at least 1ms, got %v", o.RecheckInterval)
	}
	if o.FenceTTL < 0 || (o.FenceTTL > 0 && o.FenceTTL < o.Validity) {
		return o, invalid("Options.FenceTTL must be 0 (never expires) or at least Validity (%v), got %v", o.Validity, o.FenceTTL)
	}
	o.FenceTTL = o.FenceTTL.Truncate(time.Millisecond)
	if o.Observer == nil {
		o.Observer = NoopObserver{}
	}
	return o, nil
}

// leaseArgs are the durations of validated options as script arguments,
// formatted once per Locker rather than on every call.
type leaseArgs struct {
	validity, fenceTTL string
}

func (o Options) leaseArgs() leaseArgs {
	return leaseArgs{validity: rediscmd.Millis(o.Validity), fenceTTL: rediscmd.Millis(o.FenceTTL)}
}
