package otel_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/otel"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var background = context.Background()

// newMetrics returns Metrics on an SDK MeterProvider with a manual reader,
// and the reader.
func newMetrics(t testing.TB) (*otel.Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { provider.Shutdown(background) })
	m, err := otel.NewMetrics(provider)
	if err != nil {
		t.Fatal(err)
	}
	return m, reader
}

// snapshot is what a reader collected, by instrument name.
type snapshot map[string]metricdata.Metrics

func collect(t *testing.T, reader *sdkmetric.ManualReader) snapshot {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(background, &rm); err != nil {
		t.Fatal(err)
	}
	s := snapshot{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otel.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otel.ScopeName)
		}
		for _, m := range sm.Metrics {
			s[m.Name] = m
		}
	}
	return s
}

// set names an attribute set the way the maps of sums and histograms key
// their points: "k1=v1,k2=v2", keys sorted.
func set(kvs ...attribute.KeyValue) string {
	s := attribute.NewSet(kvs...)
	return s.Encoded(attribute.DefaultEncoder())
}

// sums returns the points of the monotonic int64 counter name, by
// attribute set.
func (s snapshot) sums(t *testing.T, name string) map[string]int64 {
	t.Helper()
	sum, ok := s[name].Data.(metricdata.Sum[int64])
	if !ok || !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality {
		t.Fatalf("%s: %T (%+v), want a cumulative monotonic int64 sum", name, s[name].Data, s[name].Data)
	}
	points := map[string]int64{}
	for _, p := range sum.DataPoints {
		points[set(p.Attributes.ToSlice()...)] = p.Value
	}
	return points
}

// expectSums compares the points of each monotonic int64 counter in want,
// by instrument name, with want's, attribute sets included.
func (s snapshot) expectSums(t *testing.T, want map[string]map[string]int64) {
	t.Helper()
	for name, points := range want {
		if diff := cmp.Diff(points, s.sums(t, name)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// histogram returns the points of the float64 histogram name, by attribute
// set.
func (s snapshot) histogram(t *testing.T, name string) map[string]metricdata.HistogramDataPoint[float64] {
	t.Helper()
	h, ok := s[name].Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: %T, want a float64 histogram", name, s[name].Data)
	}
	points := map[string]metricdata.HistogramDataPoint[float64]{}
	for _, p := range h.DataPoints {
		points[set(p.Attributes.ToSlice()...)] = p
	}
	return points
}
