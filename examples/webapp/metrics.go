package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	typecacheotel "github.com/typecache/typecache/otel"
)

// newMetrics returns the typecache instruments on an OpenTelemetry
// MeterProvider read by the Prometheus exporter, and the handler that
// serves them to a Prometheus scrape. The registry is the app's own, so
// that each app (and each test) counts from zero.
func newMetrics() (*typecacheotel.Metrics, http.Handler, error) {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, nil, err
	}
	provider := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exporter),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "webapp"))),
	)
	metrics, err := typecacheotel.NewMetrics(provider)
	if err != nil {
		return nil, nil, err
	}
	return metrics, promhttp.HandlerFor(registry, promhttp.HandlerOpts{}), nil
}
