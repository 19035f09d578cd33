package lock

import (
	"fmt"
	"strings"
	"time"
)

// Defaults used for zero fields of [Options].
const (
	// DefaultPrefix is the key prefix when Options.Prefix is empty.
	DefaultPrefix = "lock"
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
	// Prefix starts every key the Locker writes: the lock "name" lives under
	// "Prefix:{name}" and its fencing counter under "Prefix:{name}:fence".
	// It must not contain '{' or '}' (the hash tag is the lock's name, so
	// locks spread over the cluster). Default DefaultPrefix.
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
	// invalidation that never arrives. Default DefaultRecheckInterval (1 s).
	RecheckInterval time.Duration

	// FenceTTL is the expiry of a lock's fencing counter, refreshed by every
	// acquisition and extension. Zero (the default) means the counter never
	// expires: fencing tokens then increase strictly for the life of the
	// Redis data set, at the cost of one small key per lock name ever used.
	// A positive FenceTTL (at least Validity) suits many short-lived names,
	// such as per-key cache leases: a name left unused for FenceTTL starts
	// counting again from 1.
	FenceTTL time.Duration
}

// withDefaults returns a validated copy of o with every zero field set.
func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return o, fmt.Errorf("lock: Options.Prefix must not contain '{' or '}', got %q", o.Prefix)
	}
	if o.Validity == 0 {
		o.Validity = DefaultValidity
	}
	if o.Validity < time.Millisecond {
		return o, fmt.Errorf("lock: Options.Validity must be at least 1ms, got %v", o.Validity)
	}
	o.Validity = o.Validity.Truncate(time.Millisecond)
	if o.ExtendInterval == 0 {
		o.ExtendInterval = o.Validity / 3
	}
	if o.ExtendInterval <= 0 || o.ExtendInterval >= o.Validity {
		return o, fmt.Errorf("lock: Options.ExtendInterval must be > 0 and < Validity (%v), got %v", o.Validity, o.ExtendInterval)
	}
	if o.RecheckInterval == 0 {
		o.RecheckInterval = DefaultRecheckInterval
	}
	if o.RecheckInterval < time.Millisecond {
		return o, fmt.Errorf("lock: Options.RecheckInterval must be at least 1ms, got %v", o.RecheckInterval)
	}
	if o.FenceTTL < 0 || (o.FenceTTL > 0 && o.FenceTTL < o.Validity) {
		return o, fmt.Errorf("lock: Options.FenceTTL must be 0 (never expires) or at least Validity (%v), got %v", o.Validity, o.FenceTTL)
	}
	return o, nil
}
