package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// run is one `make bench` output: its stamp and every benchmark's samples.
type run struct {
	config     map[string]string // benchfmt configuration lines, first value wins
	benchmarks []*benchmark      // in the order they first appear
	byName     map[string]*benchmark
}

// benchmark is every sample of one benchmark, by unit.
type benchmark struct {
	name    string // without "Benchmark" and the -GOMAXPROCS suffix
	units   []string
	samples map[string][]float64
}

var (
	configLine = regexp.MustCompile(`^([a-z][a-zA-Z0-9_-]*): (.*)$`)
	resultLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)
)

// parse reads `go test -bench` output in the benchfmt text format, with the
// extra configuration lines .ci/bench writes.
func parse(r io.Reader) (*run, error) {
	res := &run{config: map[string]string{}, byName: map[string]*benchmark{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if m := configLine.FindStringSubmatch(text); m != nil {
			if _, seen := res.config[m[1]]; !seen {
				res.config[m[1]] = strings.TrimSpace(m[2])
			}
			continue
		}
		m := resultLine.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		if len(fields)%2 != 0 {
			return nil, fmt.Errorf("line %d: odd number of value/unit fields: %q", line, text)
		}
		b := res.byName[m[1]]
		if b == nil {
			b = &benchmark{name: m[1], samples: map[string][]float64{}}
			res.byName[b.name] = b
			res.benchmarks = append(res.benchmarks, b)
		}
		for i := 0; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %q is not a number: %v", line, fields[i], err)
			}
			unit := fields[i+1]
			if _, seen := b.samples[unit]; !seen {
				b.units = append(b.units, unit)
			}
			b.samples[unit] = append(b.samples[unit], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(res.benchmarks) == 0 {
		return nil, fmt.Errorf("no benchmark results in the input")
	}
	return res, nil
}

// workloads returns the workload names (the first part of each benchmark
// name) in order of appearance.
func (r *run) workloads() []string {
	var names []string
	for _, b := range r.benchmarks {
		w := workloadOf(b.name)
		if !slices.Contains(names, w) {
			names = append(names, w)
		}
	}
	return names
}

// inWorkload returns the benchmarks of workload w.
func (r *run) inWorkload(w string) []*benchmark {
	var bs []*benchmark
	for _, b := range r.benchmarks {
		if workloadOf(b.name) == w {
			bs = append(bs, b)
		}
	}
	return bs
}

func workloadOf(name string) string {
	w, _, _ := strings.Cut(name, "/")
	return w
}

// stat is the median of a benchmark's samples in unit, with ok false when
// there are none.
func (r *run) stat(name, unit string) (summary, bool) {
	b := r.byName[name]
	if b == nil || len(b.samples[unit]) == 0 {
		return summary{}, false
	}
	return summarize(b.samples[unit]), true
}

// summary describes the samples of one benchmark in one unit.
type summary struct {
	median, min, max float64
	n                int
}

func summarize(samples []float64) summary {
	s := slices.Sorted(slices.Values(samples))
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{median: med, min: s[0], max: s[len(s)-1], n: len(s)}
}

// spread is the larger distance from the median to the extreme samples, as
// a fraction of the median.
func (s summary) spread() float64 {
	if s.median == 0 {
		return 0
	}
	return max(s.max-s.median, s.median-s.min) / s.median
}
