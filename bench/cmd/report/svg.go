package main

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// chartMetric is what a workload's panel plots.
type chartMetric struct {
	unit, caption string
}

var chartMetrics = map[string]chartMetric{
	"Stampede":   {"p99-ms", "p99 caller latency (lower is better); loader calls per round in brackets"},
	"RateLimit":  {"ops/s", "decisions per second (higher is better)"},
	"StoreValue": {"redis-B/value", "Redis memory per stored value, one panel for three value sizes (lower is better)"},
}

var defaultChartMetric = chartMetric{"ns/op", "time per operation, median (lower is better)"}

// Chart geometry, in SVG user units.
const (
	chartWidth   = 980
	labelRight   = 330 // right edge of the benchmark names
	barLeft      = 340
	barMaxWidth  = 500
	barHeight    = 16
	barGap       = 6
	panelHeading = 40
	panelGap     = 18
	titleHeight  = 64
)

// writeSVG draws one horizontal bar panel per workload, each scaled to its
// own largest value, with typecache's bars in blue.
func writeSVG(w io.Writer, r *run) {
	var body strings.Builder
	y := titleHeight
	for _, name := range r.workloads() {
		metric, ok := chartMetrics[name]
		if !ok {
			metric = defaultChartMetric
		}
		type bar struct {
			label, value string
			v            float64
			typecache    bool
		}
		var bars []bar
		top := 0.0
		for _, b := range r.inWorkload(name) {
			s, ok := r.stat(b.name, metric.unit)
			if !ok {
				continue
			}
			_, sub, _ := strings.Cut(b.name, "/")
			value := format(metric.unit, s.median)
			if calls, ok := r.stat(b.name, "loader-calls/op"); ok {
				value += fmt.Sprintf(" [%s]", sig3(calls.median))
			}
			bars = append(bars, bar{sub, value, s.median, strings.HasPrefix(sub, "typecache")})
			top = max(top, s.median)
		}
		if len(bars) == 0 {
			continue
		}
		fmt.Fprintf(&body, `<text x="20" y="%d" class="h">%s</text>`+"\n", y+20, esc(name))
		fmt.Fprintf(&body, `<text x="20" y="%d" class="c">%s</text>`+"\n", y+35, esc(metric.caption))
		y += panelHeading
		for _, b := range bars {
			width := max(2, barMaxWidth*b.v/top)
			color := "#9ca3af"
			if b.typecache {
				color = "#2563eb"
			}
			fmt.Fprintf(&body, `<text x="%d" y="%d" class="l">%s</text>`+"\n", labelRight, y+12, esc(b.label))
			fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", barLeft, y, width, barHeight, color)
			fmt.Fprintf(&body, `<text x="%.1f" y="%d" class="v">%s</text>`+"\n", float64(barLeft)+width+6, y+12, esc(b.value))
			y += barHeight + barGap
		}
		y += panelGap
	}
	c := r.config
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`+"\n",
		chartWidth, y, chartWidth, y)
	fmt.Fprintf(w, "<style>.t{font-size:18px;font-weight:600}.s{font-size:12px;fill:#4b5563}.h{font-size:14px;font-weight:600}.c{font-size:11px;fill:#6b7280}.l{font-size:12px;text-anchor:end}.v{font-size:11px;fill:#111827}</style>\n")
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(w, `<text x="20" y="28" class="t">typecache vs go-redis/cache, rueidis, go-redis, redis_rate and scs</text>`+"\n")
	fmt.Fprintf(w, `<text x="20" y="48" class="s">%s</text>`+"\n", esc(fmt.Sprintf("%s · %s, %s cores · %s · Redis %s · median of -count %s, -benchtime %s",
		c["date"], c["cpu-model"], c["cores"], c["go"], c["redis"], c["count"], c["benchtime"])))
	io.WriteString(w, body.String())
	io.WriteString(w, "</svg>\n")
}

func esc(s string) string { return html.EscapeString(s) }
