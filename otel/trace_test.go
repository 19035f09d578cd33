package otel_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/otel"
)

// newTracer returns a tracer of an SDK TracerProvider and the recorder of
// its ended spans.
func newTracer(t *testing.T) (trace.Tracer, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { provider.Shutdown(background) })
	return provider.Tracer("test"), rec
}

// spanSummary is what the tests check of a span.
type spanSummary struct {
	Name       string
	Parent     trace.SpanID
	Attributes map[string]string
	Status     codes.Code
	Message    string
	Exceptions int
}

func summarize(s sdktrace.ReadOnlySpan) spanSummary {
	sum := spanSummary{Name: s.Name(), Parent: s.Parent().SpanID(), Attributes: map[string]string{}, Status: s.Status().Code, Message: s.Status().Description}
	for _, kv := range s.Attributes() {
		sum.Attributes[string(kv.Key)] = kv.Value.Emit()
	}
	for _, e := range s.Events() {
		if e.Name == "exception" {
			sum.Exceptions++
		}
	}
	return sum
}

// TestTraceLoader: each load of a real cache's miss runs in a span that is
// a child of the caller's, named after the cache, with the result; a
// failure and a panic set the status, ErrNotFound does not; keys are not
// recorded.
func TestTraceLoader(t *testing.T) {
	tracer, rec := newTracer(t)
	name := redistest.Name(t)
	c := newCache(t, redistest.Standalone(t).Client(t), name, cache.Options[string]{})
	ctx, caller := tracer.Start(background, "request")
	defer caller.End()
	attrs := func(result string) map[string]string {
		return map[string]string{"typecache.cache.name": name, "typecache.cache.load.result": result}
	}
	for _, tt := range []struct {
		key  string
		load func(context.Context, string) (string, error)
		want spanSummary
	}{
		{"found", func(context.Context, string) (string, error) { return "v", nil },
			spanSummary{Attributes: attrs("ok")}},
		{"absent", func(context.Context, string) (string, error) { return "", cache.ErrNotFound },
			spanSummary{Attributes: attrs("not_found")}},
		{"failing", func(context.Context, string) (string, error) { return "", errSource },
			spanSummary{Attributes: attrs("error"), Status: codes.Error, Message: errSource.Error(), Exceptions: 1}},
		{"panicking", func(context.Context, string) (string, error) { panic("loader bug") },
			spanSummary{Attributes: attrs("error"), Status: codes.Error, Message: "loader panicked", Exceptions: 1}},
	} {
		t.Run(tt.key, func(t *testing.T) {
			func() {
				defer func() { recover() }() // the cache re-raises a loader's panic in its callers
				c.Fetch(ctx, tt.key, otel.TraceLoader[string](tracer, name, cache.LoaderFunc[string](tt.load)))
			}()
			spans := rec.Ended()
			tt.want.Name, tt.want.Parent = "load "+name, caller.SpanContext().SpanID()
			if diff := cmp.Diff(tt.want, summarize(spans[len(spans)-1])); diff != "" {
				t.Errorf("span (-want +got):\n%s", diff)
			}
		})
	}
	if otel.TraceLoader[string](tracer, name, nil) != nil {
		t.Error("TraceLoader of a nil loader is not nil")
	}
}

// TestTraceBatchLoader: a FetchMany's batch load runs in one span with the
// number of keys asked and found.
func TestTraceBatchLoader(t *testing.T) {
	tracer, rec := newTracer(t)
	name := redistest.Name(t)
	c := newCache(t, redistest.Standalone(t).Client(t), name, cache.Options[string]{})
	batch := cache.BatchLoaderFunc[string](func(_ context.Context, keys []string) (map[string]string, error) {
		return map[string]string{"a": "1", "b": "2"}, nil
	})
	got, err := c.FetchMany(background, []string{"a", "b", "absent"}, otel.TraceBatchLoader[string](tracer, name, batch))
	if err != nil || len(got) != 2 {
		t.Fatalf("FetchMany = %v, %v", got, err)
	}
	spans := rec.Ended()
	want := spanSummary{Name: "load_many " + name, Attributes: map[string]string{
		"typecache.cache.name": name, "typecache.cache.load.result": "ok",
		"typecache.cache.batch.keys": "3", "typecache.cache.batch.found": "2",
	}}
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	if diff := cmp.Diff(want, summarize(spans[0])); diff != "" {
		t.Errorf("span (-want +got):\n%s", diff)
	}

	failing := cache.BatchLoaderFunc[string](func(context.Context, []string) (map[string]string, error) { return nil, errSource })
	if _, err := c.FetchMany(background, []string{"c"}, otel.TraceBatchLoader[string](tracer, name, failing)); !errors.Is(err, errSource) {
		t.Fatalf("FetchMany with a failing loader = %v", err)
	}
	if s := summarize(rec.Ended()[1]); s.Status != codes.Error || s.Attributes["typecache.cache.batch.found"] != "" {
		t.Errorf("failed batch: %+v; want status Error and no found count", s)
	}
}

// TestTraceLoaderGlobalTracer: a nil tracer is the global
// TracerProvider's, looked up when the loader is wrapped.
func TestTraceLoaderGlobalTracer(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer provider.Shutdown(background)
	defer otelglobal.SetTracerProvider(otelglobal.GetTracerProvider())
	otelglobal.SetTracerProvider(provider)
	if _, err := otel.TraceLoader[string](nil, "c", loader("v", nil)).Load(background, "k"); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Name() != "load c" || spans[0].InstrumentationScope().Name != otel.ScopeName {
		t.Fatalf("spans %v, want one \"load c\" of scope %s", spans, otel.ScopeName)
	}
}
