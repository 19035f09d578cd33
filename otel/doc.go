// Package otel turns the observers of typecache's packages into
// OpenTelemetry metrics, and wraps cache loaders in spans.
//
// It is a module of its own (github.com/typecache/typecache/otel), so that
// an application that does not use OpenTelemetry does not get it through
// typecache.
//
// [NewMetrics] creates the instruments once from a MeterProvider; its
// methods [Metrics.CacheObserver], [Metrics.LockObserver],
// [Metrics.RateLimitObserver], [Metrics.SessionObserver],
// [Metrics.CounterObserver] and [Metrics.LeaderboardObserver] return the
// observer to set as Options.Observer of a cache, Locker, limiter, session
// store, counter or leaderboard. Each takes an observer of your own to pass
// every call on to (a logger, a hot-key finder), or nil.
//
// The instance's name is not given to them: each is its package's
// NamedObserver (cache.NamedObserver, lock.NamedObserver, …), so the
// package's New tells it the name of the instance it observes — the name
// given to cache.New, counter.New or leaderboard.New, or the Options.Prefix
// of a Locker, limiter or session store — and the observer records it as
// the instance's attribute, and passes it on to your observer when that is
// a NamedObserver too. One observer value may serve several instances; each
// New derives the observer of its own name. An observer that no New named
// (one wrapped in an observer of yours that does not pass WithName on)
// records without the instance's attribute.
//
// For example, with the name typed once:
//
//	metrics, err := otel.NewMetrics(nil) // the global MeterProvider
//	if err != nil {
//		return err
//	}
//	users, err := cache.New[User](client, "user", cache.Options[User]{
//		TTL:      time.Hour,
//		Observer: metrics.CacheObserver(nil), // typecache.cache.name = "user"
//	})
//
// [TraceLoader] and [TraceBatchLoader] wrap a cache.Loader or
// cache.BatchLoader so that each load runs in a span: observers have no
// context, loaders do.
//
// There is no semantic convention for caches, locks or rate limiters: the
// names below follow OpenTelemetry's naming rules (dotted namespaces,
// UCUM units, no unit or "total" in names, durations in seconds).
//
// # Metrics
//
// Every instrument is a cumulative Int64Counter unless its unit is s (a
// Float64Histogram). The attribute that names the instance is on every
// point of its package's instruments: typecache.cache.name,
// typecache.lock.locker, typecache.ratelimit.limiter,
// typecache.session.store, typecache.counter.name and
// typecache.leaderboard.name, whose value is the name or prefix New gave
// the observer. The number of series stays bounded because instance names
// are: a program declares its caches, limiters and boards, and should not
// make one per user or per request. Keys, members, lock names, user ids,
// session ids and tokens are never attributes: they are unbounded, and
// some are personal data or secrets.
//
//	instrument                            unit            attributes besides the name, and their values
//	typecache.cache.hits                  {hit}           typecache.cache.tier: local, remote
//	typecache.cache.misses                {miss}          -
//	typecache.cache.loads                 {load}          typecache.cache.load.result: ok, not_found, error
//	typecache.cache.load.duration         s               typecache.cache.load.result
//	typecache.cache.stale                 {value}         typecache.cache.stale.reason: refreshing, refresh_failed
//	typecache.cache.errors                {error}         error.type: load, decode
//	typecache.cache.store.failures        {value}         error.type: too_large, superseded, unavailable, other
//	typecache.cache.invalidations         {invalidation}  typecache.cache.invalidation.scope: key, all
//	typecache.cache.breaker.opens         {open}          -
//	typecache.lock.acquisitions           {acquisition}   typecache.lock.result: acquired, not_acquired, gave_up, error
//	typecache.lock.wait.duration          s               typecache.lock.result (as acquisitions)
//	typecache.lock.extensions             {extension}     typecache.lock.result: ok, error
//	typecache.lock.losses                 {loss}          -
//	typecache.lock.releases               {release}       typecache.lock.result: ok, error
//	typecache.lock.held.duration          s               typecache.lock.result (as releases)
//	typecache.ratelimit.decisions         {request}       typecache.ratelimit.outcome: allowed, denied, denied_locally, fail_open, fail_closed
//	typecache.ratelimit.errors            {error}         -
//	typecache.session.events              {session}       typecache.session.event: created, loaded, saved, conflict, regenerated, destroyed, rejected;
//	                                                      with loaded, typecache.session.tier: local, remote;
//	                                                      with rejected, typecache.session.reject.reason: malformed, unknown, tampered, undecodable
//	typecache.session.errors              {error}         typecache.session.operation: get, create, save, regenerate, destroy, revoke, list, other
//	typecache.counter.flushes             {flush}         typecache.counter.flush.result: ok, error
//	typecache.counter.flush.keys          {key}           typecache.counter.flush.result
//	typecache.counter.flush.duration      s               typecache.counter.flush.result
//	typecache.counter.reads               {read}          typecache.counter.tier: local, remote
//	typecache.leaderboard.top.reads       {read}          typecache.leaderboard.tier: local, remote
//	typecache.leaderboard.members.trimmed {member}        -
//
// What they count:
//
//   - cache.hits, cache.misses: values (or cached absences) served by
//     tier, and keys found in neither; the hit ratio is
//     hits / (hits + misses), per tier by filtering hits on the tier.
//   - cache.loads, cache.load.duration: loader calls (a FetchMany batch
//     counts once) and their durations, by result; not_found is the
//     loader's cache.ErrNotFound, an answer rather than a failure. The
//     histogram's bounds are 1, 2.5, 5, 10, 25, 50, 100, 250, 500 ms and
//     1, 2.5, 5, 10 s; its count equals cache.loads.
//   - cache.stale: values served past their TTL within Options.StaleTTL,
//     while a refresh runs (refreshing) or because the last refresh
//     failed (refresh_failed).
//   - cache.errors: failed loads (also in cache.loads as result=error) and
//     undecodable bytes in Redis (served as a miss).
//   - cache.store.failures: loaded values returned to the callers but not
//     stored in Redis, so the next miss loads again: too large
//     (Options.MaxValueBytes), superseded by a write while the loader
//     ran, Redis unavailable, or another Redis or codec error.
//   - cache.invalidations: local entries dropped because Redis reported
//     a change (key), or the whole local tier dropped after a reconnection
//     or FLUSHALL (all, counted once).
//   - cache.breaker.opens: times Redis failures opened the cache's
//     circuit breaker; while it is open, reads skip Redis.
//   - lock.acquisitions, lock.wait.duration: Acquire and TryAcquire calls
//     and how long each waited for other holders: acquired;
//     not_acquired when TryAcquire found the lock held; gave_up when the
//     caller's context ended first; error for a Redis error or a closed
//     Locker. Bounds 1, 5, 10, 50, 100, 500 ms and 1, 5, 10, 30, 60 s.
//   - lock.extensions: lease extensions by the watchdog or Extend; an
//     error is retried by the watchdog until the lease runs out.
//   - lock.losses: held locks lost before their release (the key was
//     deleted, expired or taken): the holder's work may overlap another's.
//   - lock.releases, lock.held.duration: releases and how long each lock
//     was held, same bounds as the wait.
//   - ratelimit.decisions: one per decision whatever its cost: allowed or
//     denied by Redis, denied_locally by the local deny cache without a
//     round trip, fail_open or fail_closed while Redis was unavailable.
//   - ratelimit.errors: replies that are neither a decision nor an outage
//     (WRONGTYPE, a script error): a fault to look into.
//   - session.events: sessions by event; loaded says whether the session
//     came from this process's memory (local) or Redis (remote);
//     destroyed counts each session that DestroyAll ended; rejected
//     counts tokens that named no session, by reason.
//   - session.errors: failures to reach Redis or unexpected replies, by
//     the operation that met them.
//   - counter.flushes, counter.flush.keys, counter.flush.duration: flushes
//     of a Counter's Buffered views that had deltas to send, the keys each
//     sent and how long it took, by result: error when a key's delta was
//     dropped or kept for the next flush. Bounds as load.duration.
//   - counter.reads: Get calls of Buffered views with a read cache: local
//     when the read cache answered, remote when Get took a round trip.
//   - leaderboard.top.reads: Top calls: local when the board's local
//     cache answered, remote otherwise (At views, the cache off).
//   - leaderboard.members.trimmed: members removed by writes that took the
//     board past Options.MaxSize.
//
// # Spans
//
// A load wrapped by [TraceLoader] runs in a span "load <name>" (for
// [TraceBatchLoader], "load_many <name>") of kind internal, with the
// attributes typecache.cache.name and typecache.cache.load.result, and for a
// batch typecache.cache.batch.keys and typecache.cache.batch.found. A
// failed or panicking load records the error and sets the span's status to
// Error; not_found does not. The span is a child of the span in the
// context of the caller that started the load (the other callers of the
// same key wait for it); a background refresh starts a root span.
//
// # Cost
//
// Attribute sets are built once per observer, so recording allocates
// nothing; each event costs one Add (or Record) of the SDK on the goroutine
// of the call it reports. On the cache's fastest path, a local hit, that is
// about 100 ns on top of the hit's 40 (BenchmarkCacheLocalHit).
package otel
