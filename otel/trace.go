package otel

import (
	"context"
	"errors"

	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/typecache/typecache/cache"
)

// Attribute keys of the load spans, besides typecache.cache.name and
// typecache.cache.load.result.
const (
	batchKeysKey  = attribute.Key("typecache.cache.batch.keys")
	batchFoundKey = attribute.Key("typecache.cache.batch.found")
)

// TraceLoader returns a [cache.Loader] that runs each Load of loader in a
// span "load <name>" of tracer (nil means the global TracerProvider's
// tracer for ScopeName), with the attributes typecache.cache.name = name
// and typecache.cache.load.result = ok, not_found or error. A failure
// (not ErrNotFound, which is an answer) is recorded on the span and sets
// its status to Error; so does a panic, which goes on up. The key is not
// recorded.
//
// The cache runs one load per key for all the callers that miss it at
// once, under a context that keeps the values of the first caller's
// context: the span is a child of that caller's span. A background refresh
// (Options.StaleWindow) has no caller: its span is a root. The returned
// Loader is nil when loader is, so that the cache reports the missing
// loader itself.
func TraceLoader[T any](tracer trace.Tracer, name string, loader cache.Loader[T]) cache.Loader[T] {
	if loader == nil {
		return nil
	}
	t := loadTracer{tracer: orGlobal(tracer), span: "load " + name, name: cacheNameKey.String(name)}
	return cache.LoaderFunc[T](func(ctx context.Context, key string) (v T, err error) {
		ctx, span := t.start(ctx)
		defer t.end(span, &err, nil)
		return loader.Load(ctx, key)
	})
}

// TraceBatchLoader is [TraceLoader] for a [cache.BatchLoader]: each
// LoadMany runs in a span "load_many <name>" that also has the attributes
// typecache.cache.batch.keys (how many keys were asked) and
// typecache.cache.batch.found (how many the loader returned).
func TraceBatchLoader[T any](tracer trace.Tracer, name string, loader cache.BatchLoader[T]) cache.BatchLoader[T] {
	if loader == nil {
		return nil
	}
	t := loadTracer{tracer: orGlobal(tracer), span: "load_many " + name, name: cacheNameKey.String(name)}
	return cache.BatchLoaderFunc[T](func(ctx context.Context, keys []string) (values map[string]T, err error) {
		ctx, span := t.start(ctx, batchKeysKey.Int(len(keys)))
		defer t.end(span, &err, func() { span.SetAttributes(batchFoundKey.Int(len(values))) })
		return loader.LoadMany(ctx, keys)
	})
}

func orGlobal(tracer trace.Tracer) trace.Tracer {
	if tracer == nil {
		return otelglobal.GetTracerProvider().Tracer(ScopeName)
	}
	return tracer
}

// loadTracer starts and ends the spans of one cache's loads.
type loadTracer struct {
	tracer trace.Tracer
	span   string
	name   attribute.KeyValue
}

func (t loadTracer) start(ctx context.Context, kvs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, t.span, trace.WithAttributes(append(kvs, t.name)...))
}

// end ends span with the result *err says, calling ok first on success. It
// must be deferred itself (recover works only there), so that a panicking
// loader is marked too before its panic goes on up.
func (t loadTracer) end(span trace.Span, err *error, ok func()) {
	defer span.End()
	if r := recover(); r != nil {
		span.SetAttributes(loadResultKey.String("error"))
		span.SetStatus(codes.Error, "loader panicked")
		panic(r)
	}
	switch {
	case *err == nil:
		if ok != nil {
			ok()
		}
		span.SetAttributes(loadResultKey.String("ok"))
	case errors.Is(*err, cache.ErrNotFound):
		span.SetAttributes(loadResultKey.String("not_found"))
	default:
		span.SetAttributes(loadResultKey.String("error"))
		span.RecordError(*err)
		span.SetStatus(codes.Error, (*err).Error())
	}
}
