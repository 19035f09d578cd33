package otel

import (
	"context"
	"errors"
	"time"

	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the meter and the default
// tracer: the import path of this package.
const ScopeName = "github.com/typecache/typecache/otel"

// loadBuckets are the bounds, in seconds, of the load duration histogram:
// from a 1 ms key-value lookup to a 10 s report query; also those of the
// counter flush duration, from one round trip to a flush's 5 s timeout.
var loadBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// lockBuckets are the bounds, in seconds, of the lock wait and hold
// histograms: from an uncontended round trip to a minute-long job.
var lockBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60}

// Metrics holds the instruments of every typecache package, created once
// from a MeterProvider; its …Observer methods return the observers that
// record into them, which each package's New names after its instance. A
// Metrics is safe for concurrent use by multiple goroutines, and so are
// its observers; build one per MeterProvider and share it. The …Observer
// methods of a nil *Metrics return the observer they are given to pass
// calls on to (nil included): metrics can be optional without a branch at
// every New.
type Metrics struct {
	cacheHits, cacheMisses, cacheLoads, cacheStale     metric.Int64Counter
	cacheErrors, cacheStoreFailures, cacheInvalidation metric.Int64Counter
	cacheBreakerOpens                                  metric.Int64Counter
	cacheLoadDuration                                  metric.Float64Histogram

	lockAcquisitions, lockExtensions, lockLosses, lockReleases metric.Int64Counter
	lockWait, lockHeld                                         metric.Float64Histogram

	rateDecisions, rateErrors metric.Int64Counter

	sessionEvents, sessionErrors metric.Int64Counter

	counterFlushes, counterFlushKeys, counterReads metric.Int64Counter
	counterFlushDuration                           metric.Float64Histogram

	boardTopReads, boardTrimmed metric.Int64Counter
}

// NewMetrics creates the instruments listed in the package documentation
// with a meter of provider (nil means the global MeterProvider,
// go.opentelemetry.io/otel.GetMeterProvider). It fails only when the
// provider refuses an instrument.
func NewMetrics(provider metric.MeterProvider) (*Metrics, error) {
	if provider == nil {
		provider = otelglobal.GetMeterProvider()
	}
	b := instruments{meter: provider.Meter(ScopeName)}
	m := &Metrics{
		cacheHits:          b.counter("typecache.cache.hits", "{hit}", "Values or cached absences served, by tier."),
		cacheMisses:        b.counter("typecache.cache.misses", "{miss}", "Keys found in neither tier."),
		cacheLoads:         b.counter("typecache.cache.loads", "{load}", "Loader calls (a batch counts once), by result."),
		cacheStale:         b.counter("typecache.cache.stale", "{value}", "Values served past their TTL, within the stale window."),
		cacheErrors:        b.counter("typecache.cache.errors", "{error}", "Undecodable values and failed loads, by kind."),
		cacheStoreFailures: b.counter("typecache.cache.store.failures", "{value}", "Loaded values returned to callers but not stored in Redis, by cause."),
		cacheInvalidation:  b.counter("typecache.cache.invalidations", "{invalidation}", "Local entries dropped because Redis reported a change; a flush of the whole tier counts once."),
		cacheBreakerOpens:  b.counter("typecache.cache.breaker.opens", "{open}", "Times Redis failures opened the cache's circuit breaker."),
		cacheLoadDuration: b.histogram("typecache.cache.load.duration", "s", "Duration of loader calls, by result.",
			metric.WithExplicitBucketBoundaries(loadBuckets...)),

		lockAcquisitions: b.counter("typecache.lock.acquisitions", "{acquisition}", "Acquire and TryAcquire calls, by result."),
		lockWait: b.histogram("typecache.lock.wait.duration", "s", "Time Acquire and TryAcquire calls waited for other holders, by result.",
			metric.WithExplicitBucketBoundaries(lockBuckets...)),
		lockExtensions: b.counter("typecache.lock.extensions", "{extension}", "Lease extensions by the watchdog or Extend, by result."),
		lockLosses:     b.counter("typecache.lock.losses", "{loss}", "Held locks lost before their release."),
		lockReleases:   b.counter("typecache.lock.releases", "{release}", "Locks given up by Release, by result."),
		lockHeld: b.histogram("typecache.lock.held.duration", "s", "Time locks were held until their release, by result.",
			metric.WithExplicitBucketBoundaries(lockBuckets...)),

		rateDecisions: b.counter("typecache.ratelimit.decisions", "{request}", "Rate limit decisions, by outcome."),
		rateErrors:    b.counter("typecache.ratelimit.errors", "{error}", "Redis replies that were neither a decision nor an outage."),

		sessionEvents: b.counter("typecache.session.events", "{session}", "Sessions by life-cycle event."),
		sessionErrors: b.counter("typecache.session.errors", "{error}", "Failures to reach Redis or unexpected replies, by operation."),

		counterFlushes:   b.counter("typecache.counter.flushes", "{flush}", "Flushes of Buffered counters, by result."),
		counterFlushKeys: b.counter("typecache.counter.flush.keys", "{key}", "Keys sent by flushes of Buffered counters, by the flush's result."),
		counterFlushDuration: b.histogram("typecache.counter.flush.duration", "s", "Duration of flushes of Buffered counters, by result.",
			metric.WithExplicitBucketBoundaries(loadBuckets...)),
		counterReads: b.counter("typecache.counter.reads", "{read}", "Get calls of Buffered counters with a read cache, by tier."),

		boardTopReads: b.counter("typecache.leaderboard.top.reads", "{read}", "Top calls, by tier."),
		boardTrimmed:  b.counter("typecache.leaderboard.members.trimmed", "{member}", "Members removed by writes because the board was past its MaxSize."),
	}
	if b.err != nil {
		return nil, b.err
	}
	return m, nil
}

// instruments creates instruments with one meter and keeps the errors, so
// that NewMetrics reads as the table of its instruments.
type instruments struct {
	meter metric.Meter
	err   error
}

func (b *instruments) counter(name, unit, desc string) metric.Int64Counter {
	c, err := b.meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.err = errors.Join(b.err, err)
	return c
}

func (b *instruments) histogram(name, unit, desc string, opts ...metric.Float64HistogramOption) metric.Float64Histogram {
	h, err := b.meter.Float64Histogram(name, append(opts, metric.WithUnit(unit), metric.WithDescription(desc))...)
	b.err = errors.Join(b.err, err)
	return h
}

// attrs is one precomputed attribute set in the two option shapes the
// instruments take, so that recording a measurement allocates nothing for
// its attributes.
type attrs struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func newAttrs(kvs ...attribute.KeyValue) attrs {
	o := metric.WithAttributeSet(attribute.NewSet(kvs...))
	return attrs{add: []metric.AddOption{o}, record: []metric.RecordOption{o}}
}

// instance is the attribute that names the instance an observer records
// for (key = the name its package gave), or none for an observer no
// package has named: one returned by a …Observer method and not yet passed
// through its package's New.
type instance []attribute.KeyValue

func newInstance(key attribute.Key, name string) instance {
	if name == "" {
		return nil
	}
	return instance{key.String(name)}
}

// with returns the attribute set of the instance's attribute and kvs.
func (i instance) with(kvs ...attribute.KeyValue) attrs { return newAttrs(append(kvs, i...)...) }

// count adds n to c under a.
func count(c metric.Int64Counter, n int64, a attrs) { c.Add(context.Background(), n, a.add...) }

// record records d in seconds in h under a.
func record(h metric.Float64Histogram, d time.Duration, a attrs) {
	h.Record(context.Background(), d.Seconds(), a.record...)
}
