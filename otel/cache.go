package otel

import (
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/observe"
)

// Attribute keys of the cache instruments.
const (
	cacheNameKey   = attribute.Key("typecache.cache.name")
	tierKey        = attribute.Key("typecache.cache.tier")
	loadResultKey  = attribute.Key("typecache.cache.load.result")
	staleReasonKey = attribute.Key("typecache.cache.stale.reason")
	scopeKey       = attribute.Key("typecache.cache.invalidation.scope")
	errorTypeKey   = attribute.Key("error.type")
)

// CacheObserver returns a [cache.Observer] for Options.Observer of a
// cache, that records into m's typecache.cache.* instruments, then passes
// every call on to next (nil means none), so that metrics and a logging or
// hot-key observer of your own can run together. It is a
// [cache.NamedObserver]: cache.New gives it the cache's name, the value of
// the attribute typecache.cache.name, and passes the name on to next when
// next is a NamedObserver too. One value may serve every cache.
//
// Keys never become attributes: they are unbounded. When next is a
// [cache.KeyObserver] (after naming), the observer the cache reports to is
// one too and hands the keys to next only; otherwise it is not, and the
// cache spends nothing on keys.
func (m *Metrics) CacheObserver(next cache.Observer) cache.Observer {
	if m == nil {
		return next
	}
	return m.cacheObserver("", next)
}

// cacheObserver returns the observer of the cache called name ("" when
// unnamed), passing calls on to next.
func (m *Metrics) cacheObserver(name string, next cache.Observer) cache.Observer {
	if next == nil {
		next = cache.NoopObserver{}
	}
	n := newInstance(cacheNameKey, name)
	o := &cacheObserver{
		m:                m,
		next:             next,
		name:             n.with(),
		local:            n.with(tierKey.String(cache.TierLocal.String())),
		remote:           n.with(tierKey.String(cache.TierRemote.String())),
		loadOK:           n.with(loadResultKey.String("ok")),
		loadNotFound:     n.with(loadResultKey.String("not_found")),
		loadError:        n.with(loadResultKey.String("error")),
		staleRefreshing:  n.with(staleReasonKey.String("refreshing")),
		staleFailed:      n.with(staleReasonKey.String("refresh_failed")),
		errDecode:        n.with(errorTypeKey.String("decode")),
		errLoad:          n.with(errorTypeKey.String("load")),
		storeTooLarge:    n.with(errorTypeKey.String("too_large")),
		storeSuperseded:  n.with(errorTypeKey.String("superseded")),
		storeUnavailable: n.with(errorTypeKey.String("unavailable")),
		storeOther:       n.with(errorTypeKey.String("other")),
		invalidationKey:  n.with(scopeKey.String("key")),
		invalidationAll:  n.with(scopeKey.String("all")),
	}
	if keys, ok := next.(cache.KeyObserver); ok {
		return &keyCacheObserver{cacheObserver: o, keys: keys}
	}
	return o
}

// cacheObserver records a cache's events; its attribute sets are built
// once, by CacheObserver.
type cacheObserver struct {
	m    *Metrics
	next cache.Observer

	name, local, remote                                          attrs
	loadOK, loadNotFound, loadError                              attrs
	staleRefreshing, staleFailed, errDecode, errLoad             attrs
	storeTooLarge, storeSuperseded, storeUnavailable, storeOther attrs
	invalidationKey, invalidationAll                             attrs
}

// WithName returns the observer of the cache called name, with next's
// observer of that name (see cache.NamedObserver).
func (o *cacheObserver) WithName(name string) cache.Observer {
	return o.m.cacheObserver(name, observe.Named(o.next, name, cache.Observer(cache.NoopObserver{})))
}

func (o *cacheObserver) OnHit(tier cache.Tier) {
	a := o.remote
	if tier == cache.TierLocal {
		a = o.local
	}
	count(o.m.cacheHits, 1, a)
	o.next.OnHit(tier)
}

func (o *cacheObserver) OnMiss() {
	count(o.m.cacheMisses, 1, o.name)
	o.next.OnMiss()
}

func (o *cacheObserver) OnLoad(d time.Duration, err error) {
	a := o.loadOK
	switch {
	case errors.Is(err, cache.ErrNotFound):
		a = o.loadNotFound
	case err != nil:
		a = o.loadError
		count(o.m.cacheErrors, 1, o.errLoad)
	}
	count(o.m.cacheLoads, 1, a)
	record(o.m.cacheLoadDuration, d, a)
	o.next.OnLoad(d, err)
}

func (o *cacheObserver) OnStale(err error) {
	a := o.staleRefreshing
	if err != nil {
		a = o.staleFailed
	}
	count(o.m.cacheStale, 1, a)
	o.next.OnStale(err)
}

func (o *cacheObserver) OnDecodeError(key string, err error) {
	count(o.m.cacheErrors, 1, o.errDecode)
	o.next.OnDecodeError(key, err)
}

func (o *cacheObserver) OnInvalidation(all bool) {
	a := o.invalidationKey
	if all {
		a = o.invalidationAll
	}
	count(o.m.cacheInvalidation, 1, a)
	o.next.OnInvalidation(all)
}

func (o *cacheObserver) OnBreakerOpen() {
	count(o.m.cacheBreakerOpens, 1, o.name)
	o.next.OnBreakerOpen()
}

func (o *cacheObserver) OnStoreFailure(key string, err error) {
	var a attrs
	switch {
	case errors.Is(err, cache.ErrTooLarge):
		a = o.storeTooLarge
	case errors.Is(err, cache.ErrSuperseded):
		a = o.storeSuperseded
	case errors.Is(err, cache.ErrUnavailable):
		a = o.storeUnavailable
	default:
		a = o.storeOther
	}
	count(o.m.cacheStoreFailures, 1, a)
	o.next.OnStoreFailure(key, err)
}

// keyCacheObserver is a cacheObserver whose next observer wants keys.
type keyCacheObserver struct {
	*cacheObserver
	keys cache.KeyObserver
}

func (o *keyCacheObserver) OnMissKey(key string) { o.keys.OnMissKey(key) }

func (o *keyCacheObserver) OnLoadKey(key string, d time.Duration, err error) {
	o.keys.OnLoadKey(key, d, err)
}
