package otel

import (
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/cache"
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

// CacheObserver returns a [cache.Observer] for Options.Observer of the
// cache called name, that records into m's typecache.cache.* instruments
// with the attribute typecache.cache.name = name, then passes every call
// on to next (nil means none), so that metrics and a logging or hot-key
// observer of your own can run together.
//
// Keys never become attributes: they are unbounded. When next is a
// [cache.KeyObserver], the returned observer is one too and hands the keys
// to next only; otherwise it is not, and the cache spends nothing on keys.
func (m *Metrics) CacheObserver(name string, next cache.Observer) cache.Observer {
	if m == nil {
		return next
	}
	if next == nil {
		next = cache.NoopObserver{}
	}
	n := cacheNameKey.String(name)
	o := &cacheObserver{
		m:                m,
		next:             next,
		name:             newAttrs(n),
		local:            newAttrs(n, tierKey.String(cache.TierLocal.String())),
		remote:           newAttrs(n, tierKey.String(cache.TierRemote.String())),
		loadOK:           newAttrs(n, loadResultKey.String("ok")),
		loadNotFound:     newAttrs(n, loadResultKey.String("not_found")),
		loadError:        newAttrs(n, loadResultKey.String("error")),
		staleRefreshing:  newAttrs(n, staleReasonKey.String("refreshing")),
		staleFailed:      newAttrs(n, staleReasonKey.String("refresh_failed")),
		errDecode:        newAttrs(n, errorTypeKey.String("decode")),
		errLoad:          newAttrs(n, errorTypeKey.String("load")),
		storeTooLarge:    newAttrs(n, errorTypeKey.String("too_large")),
		storeSuperseded:  newAttrs(n, errorTypeKey.String("superseded")),
		storeUnavailable: newAttrs(n, errorTypeKey.String("unavailable")),
		storeOther:       newAttrs(n, errorTypeKey.String("other")),
		invalidationKey:  newAttrs(n, scopeKey.String("key")),
		invalidationAll:  newAttrs(n, scopeKey.String("all")),
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
