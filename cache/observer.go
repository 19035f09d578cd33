package cache

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// Tier says where a hit was served from.
type Tier uint8

const (
	// TierLocal is the in-process tier of decoded values.
	TierLocal Tier = iota + 1
	// TierRemote is Redis, through rueidis's client-side cache or a round trip.
	TierRemote
)

// String returns "local" or "remote".
func (t Tier) String() string {
	switch t {
	case TierLocal:
		return "local"
	case TierRemote:
		return "remote"
	}
	return "unknown"
}

// An Observer is told what a Cache does, for metrics and logs; an
// OpenTelemetry or Prometheus adapter implements it. Its methods are called
// synchronously on the callers' goroutines (OnInvalidation on rueidis's reader
// goroutine), concurrently: they must be safe for concurrent use, cheap, and
// must never block.
//
// Embed [NoopObserver] to implement only some methods and keep compiling
// when methods are added.
type Observer interface {
	// OnHit reports a value (or a cached absence) served from tier.
	OnHit(tier Tier)
	// OnMiss reports a key found in neither tier.
	OnMiss()
	// OnLoad reports one loader call (Load, or LoadMany for a batch), its
	// duration and its error (nil, ErrNotFound or a failure).
	OnLoad(d time.Duration, err error)
	// OnStale reports a value served past its TTL, within the stale window;
	// err is the loader's error when the value is served because a refresh
	// failed, nil while a refresh runs.
	OnStale(err error)
	// OnDecodeError reports bytes under key that could not be decoded; they
	// are treated as a miss.
	OnDecodeError(key string, err error)
	// OnInvalidation reports a local entry dropped because Redis said the
	// key changed; all is true when the whole local tier was dropped.
	OnInvalidation(all bool)
	// OnBreakerOpen reports that Redis failures opened the breaker of a
	// node (see typecache.Breaker): the Client's breakers are shared, so
	// every Cache on the Client hears of every node's.
	OnBreakerOpen()
	// OnStoreFailure reports a loaded value that was not stored in Redis:
	// err wraps ErrTooLarge, a Redis or codec error, or is ErrSuperseded
	// (a write reached the key while the loader ran). The value was still
	// returned to the callers.
	OnStoreFailure(key string, err error)
}

// A KeyObserver is an [Observer] that is also told the keys of misses and
// loads, to find hot keys. Set it as Options.Observer: New finds it by type
// assertion, so the Observer methods and the local hit path (which reports
// no key) are unchanged. Export keys to metrics with care: they are
// unbounded.
type KeyObserver interface {
	Observer
	// OnMissKey reports the key of a miss (after OnMiss).
	OnMissKey(key string)
	// OnLoadKey reports the key of a load (after OnLoad); a LoadMany call
	// reports each of its keys with the batch's duration and error.
	OnLoadKey(key string, d time.Duration, err error)
}

// A ConflictObserver is an [Observer] that is also told of Puts whose cache
// update became a delete because another write of the key overlapped them
// (see Cache.Put; Stats.PutConflicts counts them). Set it as
// Options.Observer: New finds it by type assertion.
type ConflictObserver interface {
	Observer
	// OnPutConflict reports the key of such a Put.
	OnPutConflict(key string)
}

// A NamedObserver is an [Observer] that is told the name of the Cache it
// observes, so that one value can observe many caches and tell them apart
// (the otel module's observers record it as an attribute). Set it as
// Options.Observer: New calls WithName once, with the name given to New
// (without Options.Version, so that a cache keeps its name across a change
// of Version), and the Cache reports to the Observer WithName returns (nil
// means none), which may be the NamedObserver itself. The Observer it
// returns may be a [KeyObserver]. Every typecache package has a
// NamedObserver of this shape, named by its instances' names or prefixes.
type NamedObserver interface {
	Observer
	// WithName returns the Observer of the Cache called name. New calls it
	// before the Cache reports anything.
	WithName(name string) Observer
}

// NoopObserver is an [Observer] that does nothing, the default. Embed it in
// an observer to implement only the methods you need.
type NoopObserver struct{}

// OnHit does nothing.
func (NoopObserver) OnHit(Tier) {}

// OnMiss does nothing.
func (NoopObserver) OnMiss() {}

// OnLoad does nothing.
func (NoopObserver) OnLoad(time.Duration, error) {}

// OnStale does nothing.
func (NoopObserver) OnStale(error) {}

// OnDecodeError does nothing.
func (NoopObserver) OnDecodeError(string, error) {}

// OnInvalidation does nothing.
func (NoopObserver) OnInvalidation(bool) {}

// OnBreakerOpen does nothing.
func (NoopObserver) OnBreakerOpen() {}

// OnStoreFailure does nothing.
func (NoopObserver) OnStoreFailure(string, error) {}

// Stats is a snapshot of a Cache's counters since New.
type Stats struct {
	LocalHits     uint64 // values or absences served from the local tier
	RemoteHits    uint64 // values or absences served from Redis
	Misses        uint64 // keys found in neither tier
	Loads         uint64 // loader calls (a batch counts once)
	LoadErrors    uint64 // loader calls that failed (ErrNotFound is not a failure)
	StaleServed   uint64 // values served within the stale window
	DecodeErrors  uint64 // undecodable bytes met under a key
	Invalidations uint64 // local entries dropped by Redis invalidations (a flush counts once)
	BreakerOpens  uint64 // times Redis failures opened a node's breaker (see Observer.OnBreakerOpen)
	LockWaits     uint64 // misses that waited for another caller's load
	LockErrors    uint64 // load leases that could not be extended (Redis errors)
	StoreFailures uint64 // loaded values not stored (see Observer.OnStoreFailure)
	PutConflicts  uint64 // Puts that deleted the entry: another write of the key overlapped them (see Cache.Put)
	LocalEntries  int    // entries in the local tier now
	LocalBytes    int64  // weight of the local tier now
}

// counters are the Cache's statistics. Local hits are counted by the local
// tier, in a hitCounter.
type counters struct {
	remoteHits, misses, loads, loadErrors, staleServed atomic.Uint64
	decodeErrors, invalidations, breakerOpens          atomic.Uint64
	lockWaits, lockErrors, storeFailures, putConflicts atomic.Uint64
}

// hitCounter counts local hits, exactly, without a word that every hit
// writes: a hit adds to one of hitStripes counters, each on its own cache
// lines, picked by the address of the counting goroutine's stack, so that
// goroutines running on different cores rarely write the same line. The
// count is the sum of the stripes.
type hitCounter struct{ stripes [hitStripes]hitStripe }

type hitStripe struct {
	n atomic.Uint64
	_ [120]byte // 128 bytes a stripe: CPUs fetch adjacent lines in pairs
}

const (
	hitStripeBits = 5
	hitStripes    = 1 << hitStripeBits
)

// stripe returns the calling goroutine's stripe. Goroutine stacks are
// disjoint and at least 2 KB long, so a stack address over 2 KB tells
// running goroutines apart; Fibonacci hashing spreads it over the stripes.
// A goroutine whose stack moves changes stripes, which costs nothing.
func (h *hitCounter) stripe() *hitStripe {
	var mark byte
	sp := uint64(uintptr(unsafe.Pointer(&mark)))
	return &h.stripes[(sp>>11)*0x9e3779b97f4a7c15>>(64-hitStripeBits)]
}

// add counts one hit in s.
func (s *hitStripe) add() { s.n.Add(1) }

// sum returns the hits counted.
func (h *hitCounter) sum() uint64 {
	var n uint64
	for i := range h.stripes {
		n += h.stripes[i].n.Load()
	}
	return n
}
