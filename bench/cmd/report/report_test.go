package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const sampleRun = `date: 2026-11-25T18:00:00Z
commit: 0123abc
cpu-model: Test CPU
cores: 2
go: go1.26.8
redis: 7.0.15
count: 2
benchtime: 1s
goos: linux
goarch: amd64
pkg: github.com/typecache/typecache/bench
cpu: Test CPU
BenchmarkLocalHit/typecache/1-goroutine-2         	 1000	        50.0 ns/op	         0.05 client-cpu-µs/op	       0 B/op	       0 allocs/op
BenchmarkLocalHit/typecache/1-goroutine-2         	 1000	        70.0 ns/op	         0.07 client-cpu-µs/op	       0 B/op	       0 allocs/op
BenchmarkLocalHit/go-redis-cache/1-goroutine-2    	 1000	      6000 ns/op	         6.0 client-cpu-µs/op	    2352 B/op	      28 allocs/op
BenchmarkLocalHit/go-redis-cache/1-goroutine-2    	 1000	      6400 ns/op	         6.4 client-cpu-µs/op	    2352 B/op	      28 allocs/op
BenchmarkMissLoadStore/typecache/1-goroutine-2    	 5000	    200000 ns/op	        90.0 client-cpu-µs/op	         3.001 round-trips/op	    5257 B/op	      40 allocs/op
BenchmarkMissLoadStore/rueidis/1-goroutine-2      	 5000	    100000 ns/op	        60.0 client-cpu-µs/op	         2.000 round-trips/op	    2301 B/op	      10 allocs/op
BenchmarkStoreValue/1000B/plain-set/1-goroutine-2 	 5000	     30000 ns/op	         0 guard-B/value	         1.000 keys/value	      1154 redis-B/value
BenchmarkStoreValue/1000B/typecache/1-goroutine-2 	 5000	     60000 ns/op	       115.0 guard-B/value	         2.000 keys/value	      1575 redis-B/value
BenchmarkLock/typecache/uncontended/64-goroutines-2 	 1000	     40000 ns/op	     25000 ops/s
BenchmarkLock/redislock/uncontended/64-goroutines-2 	 1000	     50000 ns/op	     20000 ops/s
BenchmarkStampede/typecache-2                     	    8	 112000000 ns/op	         1.000 loader-calls/op	       103.0 p50-ms	       108.0 p99-ms
BenchmarkStampede/typecache-2                     	    8	 113000000 ns/op	         1.250 loader-calls/op	       104.0 p50-ms	       109.0 p99-ms
BenchmarkStampede/go-redis-cache-2                	    8	 112000000 ns/op	         4.000 loader-calls/op	       103.0 p50-ms	       120.0 p99-ms
BenchmarkRateLimit/typecache-gcra/1-key/64-goroutines-2  	 5000	     20000 ns/op	        21.00 allowed-%	     50000 ops/s
BenchmarkRateLimit/redis_rate-gcra/1-key/64-goroutines-2 	 5000	     25000 ns/op	        33.00 allowed-%	     40000 ops/s
failed-workloads: Session
`

// sampleTierRun is a run of make bench-tier, where typecache loses one cell.
const sampleTierRun = `date: 2026-12-07T02:00:00Z
commit: 4567def
go: go1.26.8
pkg: github.com/typecache/typecache/bench
BenchmarkHitRatio/zipf-0.8/1k/typecache-2         	       1	 312055148 ns/op	        31.45 hit-%
BenchmarkHitRatio/zipf-0.8/1k/typecache-cache-2   	       1	 312055148 ns/op	        31.80 hit-%
BenchmarkHitRatio/zipf-0.8/1k/otter-2             	       1	 754700972 ns/op	        30.59 hit-%
BenchmarkHitRatio/zipf-1.0/10k/typecache-2        	       1	 111268333 ns/op	        75.00 hit-%
BenchmarkHitRatio/zipf-1.0/10k/typecache-cache-2  	       1	 111268333 ns/op	        76.50 hit-%
BenchmarkHitRatio/zipf-1.0/10k/otter-2            	       1	 164975747 ns/op	        76.37 hit-%
pkg: github.com/typecache/typecache/internal/tier
BenchmarkFillRejection/10k-entries/100k-inv-per-s/read-76µs-2   	  200000	      3262 ns/op	         0 admission-rejected-%	         0.007500 rule-rejected-%
`

func TestParseMedians(t *testing.T) {
	r, err := parse(strings.NewReader(sampleRun))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, unit string
		want       float64
	}{
		{"LocalHit/typecache/1-goroutine", "ns/op", 60},
		{"LocalHit/go-redis-cache/1-goroutine", "allocs/op", 28},
		{"LocalHit/go-redis-cache/1-goroutine", "client-cpu-µs/op", 6.2},
		{"Stampede/typecache", "loader-calls/op", 1.125},
		{"RateLimit/redis_rate-gcra/1-key/64-goroutines", "ops/s", 40000},
	} {
		s, ok := r.stat(tc.name, tc.unit)
		if !ok || s.median != tc.want {
			t.Errorf("median %s %s = %v (found %v), want %v", tc.name, tc.unit, s.median, ok, tc.want)
		}
	}
	if got, want := strings.Join(r.workloads(), ","), "LocalHit,MissLoadStore,StoreValue,Lock,Stampede,RateLimit"; got != want {
		t.Errorf("workloads = %s, want %s", got, want)
	}
	if r.config["cpu-model"] != "Test CPU" || r.config["failed-workloads"] != "Session" {
		t.Errorf("config = %v", r.config)
	}
}

func TestParseRejectsEmptyInput(t *testing.T) {
	if _, err := parse(strings.NewReader("goos: linux\nPASS\n")); err == nil {
		t.Error("parse accepted output without results")
	}
}

// TestCheckTargets checks the verdicts on the sample run: the targets
// listed are measured in it, every other one is not.
func TestCheckTargets(t *testing.T) {
	r, err := parse(strings.NewReader(sampleRun))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]verdict{
		"local hit (1 goroutine) ≥ 30× as fast as go-redis/cache with TinyLFU":                                  met,    // 6200/60
		"local hit ≤ 50 ns/op and 0 allocs/op":                                                                  missed, // 60
		"miss + load + store ≤ 2 round trips beyond the loader":                                                 missed, // 3.001
		"miss + load + store, with the cross-process lease, ≤ 1.3× plain rueidis GET + SET":                     missed, // 2×
		"miss + load + store ≤ 20 allocs":                                                                       missed, // 40
		"Redis memory per stored value ≤ 1.1× a plain SET (1000B values)":                                       missed, // 1575/1154
		"stampede (4 processes × 64 goroutines): exactly 1 loader call per cold key":                            missed, // one run averaged 1.25
		"stampede: p99 wait ≤ loader time + 10 ms (110 ms)":                                                     met,
		"lock: uncontended Acquire + Release throughput ≥ 1.2× bsm/redislock (64 goroutines)":                   met,    // 25000/20000
		"rate limit gcra ≥ 1.5× redis_rate (1-key)":                                                             missed, // 50000/40000
		"client CPU/op of every typecache row ≤ go-redis-cache, rueidis-docache (LocalHit, 1 goroutine)":        met,    // 0.06 vs 6.2
		"client CPU/op of every typecache row ≤ go-redis-cache, rueidis, go-redis (MissLoadStore, 1 goroutine)": missed, // 90 vs 60
	}
	checks := checkTargets(r)
	seen := map[string]bool{}
	for _, c := range checks {
		if seen[c.target] {
			t.Errorf("target %q twice", c.target)
		}
		seen[c.target] = true
		v, ok := want[c.target]
		if !ok {
			v = notMeasured
		}
		if c.verdict != v {
			t.Errorf("%s: verdict %v (%s), want %v", c.target, c.verdict, c.measured, v)
		}
	}
	for target := range want {
		if !seen[target] {
			t.Errorf("no target %q", target)
		}
	}
	// 2 local-hit ratios, the local hit, the remote hit, the miss's round
	// trips, time and allocations, 3 memory ratios, 2 stampede, 4 lock (the
	// 1-goroutine ratio with the reply poll on and off), 2
	// handoff, 3 session, 24 rate-limit, and client CPU: 13 workloads × 2
	// callers + 2.
	if want := 2 + 1 + 1 + 3 + 3 + 2 + 4 + 2 + 3 + 24 + 13*2 + 2; len(checks) != want {
		t.Errorf("%d checks, want %d", len(checks), want)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		unit string
		v    float64
		want string
	}{
		{"ns/op", 52.34, "52.3 ns"},
		{"ns/op", 6392, "6.39 µs"},
		{"ns/op", 138817, "139 µs"},
		{"ns/op", 112632700, "113 ms"},
		{"ops/s", 17758.2, "17758/s"},
		{"client-cpu-µs/op", 23.456, "23.5 µs"},
		{"redis-B/value", 1574.6, "1575 B"},
		{"keys/value", 2.0004, "2.00"},
		{"p99-ms", 109.94, "109.9 ms"},
		{"round-trips/op", 1.0000001, "1.00"},
		{"loader-calls/op", 1, "1"},
		{"loader-calls/op", 1.125, "1.12"},
		{"allocs/op", 28, "28"},
		{"allocs/op", 0, "0"},
	} {
		if got := format(tc.unit, tc.v); got != tc.want {
			t.Errorf("format(%q, %v) = %q, want %q", tc.unit, tc.v, got, tc.want)
		}
	}
}

// TestGenerate writes the report and chart for the sample run and checks
// that they carry the stamp, the verdicts and the failed workload.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "latest.txt")
	goMod := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(in, []byte(sampleRun), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goMod, []byte("require (\n\tgithub.com/go-redis/cache/v9 v9.0.0\n\tgithub.com/redis/rueidis v1.0.79\n)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	md, svg := filepath.Join(dir, "docs", "benchmarks.md"), filepath.Join(dir, "docs", "img", "benchmarks.svg")
	notes := filepath.Join(dir, "notes.md")
	if err := os.WriteFile(notes, []byte("<!-- run: 2026-11-25T18:00:00Z -->\nThe stampede target was missed because of X.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tier := filepath.Join(dir, "tier.txt")
	if err := os.WriteFile(tier, []byte(sampleTierRun), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := generate(in, md, svg, goMod, notes, tier, filepath.Join(dir, "no-previous-run.txt")); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Test CPU, 2 cores", "go1.26.8", "7.0.15", "2026-11-25T18:00:00Z", "commit 0123abc", "(img/benchmarks.svg)",
		"github.com/go-redis/cache/v9 v9.0.0", "failed in this run: Session", "| **missed** |", "| typecache/1-goroutine | 60 ns |",
		"| benchmark | time/op | ± | client-cpu-µs/op | round-trips/op | allocs/op | B/op |", "| 1000B/typecache/1-goroutine | 60 µs | 0% | 1575 | 2.00 | 115 |",
		"at 1000B, 2.00 keys per value stored (the value's own included) and 115 B per value in the keys that hold none, 7% of its Redis memory per value.",
		"### Notes on this run\n\nThe stampede target was missed because of X.",
		"## Local tier", "commit 4567def", "| zipf-0.8 | 1k | 31.45 | 31.80 | 30.59 |", "on every stream and size: **missed**",
		"| 10k | 100k/s | 76µs | 11.2 | 0.00750 | 0 |"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("benchmarks.md lacks %q:\n%s", want, page)
		}
	}
	chart, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "Test CPU, 2 cores", "#2563eb", "typecache-gcra/1-key/64-goroutines", "1575 B", "[1.12]", "</svg>"} {
		if !strings.Contains(string(chart), want) {
			t.Errorf("benchmarks.svg lacks %q", want)
		}
	}
}

func TestRunNotesOfAnotherRunAreLeftOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.md")
	if err := os.WriteFile(path, []byte("<!-- run: 2026-01-01T00:00:00Z -->\nold\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notes, err := runNotes(path, "2026-11-25T18:00:00Z")
	if err != nil || notes != "" {
		t.Errorf("runNotes = %q, %v; want nothing for another run's notes", notes, err)
	}
	if notes, err := runNotes(filepath.Join(t.TempDir(), "missing.md"), "x"); err != nil || notes != "" {
		t.Errorf("runNotes of a missing file = %q, %v; want nothing", notes, err)
	}
}

func TestHeldChecks(t *testing.T) {
	cur := []check{
		{target: "a", measured: "1", verdict: met},
		{target: "b", measured: "2", verdict: met},
		{target: "c", measured: "3", verdict: missed},
		{target: "d", measured: "4", verdict: met},
		{target: "e", measured: "not measured", verdict: notMeasured},
	}
	prev := []check{
		{target: "a", measured: "1.1", verdict: met},
		{target: "b", measured: "2.2", verdict: missed},
		{target: "c", measured: "3.3", verdict: met},
		{target: "e", measured: "5", verdict: met},
	}
	for _, tt := range []struct {
		name string
		prev []check
		want map[string]string // target: previous | verdict
	}{
		{"no earlier run", nil, map[string]string{"a": " | met", "b": " | met", "c": " | **missed**", "d": " | met", "e": " | not measured"}},
		{"an earlier run", prev, map[string]string{
			"a": "1.1 | met",
			"b": "2.2 | **met in this run only**",
			"c": "3.3 | **missed**",
			"d": "not measured | **met in this run only**",
			"e": "5 | not measured",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := heldChecks(cur, tt.prev)
			if len(got) != len(cur) {
				t.Fatalf("%d checks, want %d", len(got), len(cur))
			}
			for _, h := range got {
				if s := h.previous + " | " + h.verdictText(); s != tt.want[h.target] {
					t.Errorf("%s: %q, want %q", h.target, s, tt.want[h.target])
				}
			}
		})
	}
}

func TestGenerateWithPreviousRun(t *testing.T) {
	dir := t.TempDir()
	in, previous, goMod := filepath.Join(dir, "latest.txt"), filepath.Join(dir, "previous.txt"), filepath.Join(dir, "go.mod")
	for path, data := range map[string]string{
		in:       sampleRun,
		previous: strings.Replace(sampleRun, "date: 2026-11-25T18:00:00Z", "date: 2026-11-24T09:00:00Z", 1),
		goMod:    "require github.com/redis/rueidis v1.0.79\n",
	} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	md := filepath.Join(dir, "benchmarks.md")
	if err := generate(in, md, filepath.Join(dir, "benchmarks.svg"), goMod, filepath.Join(dir, "no-notes.md"), filepath.Join(dir, "no-tier.txt"), previous); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| target | this run | previous run | verdict |", "the run before it (2026-11-24T09:00:00Z, commit 0123abc",
		"A target is met only when both runs met it"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("benchmarks.md lacks %q:\n%s", want, page)
		}
	}
}

// TestRunGoMod: the contenders' versions come from the go.mod given, else
// from the run's commit, else (a dirty tree's run) from ./go.mod.
func TestRunGoMod(t *testing.T) {
	dir := t.TempDir()
	given := filepath.Join(dir, "given.mod")
	if err := os.WriteFile(given, []byte("require github.com/redis/rueidis v1.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if mod, err := runGoMod(given, "HEAD"); err != nil || !strings.Contains(string(mod), "v1.0.1") {
		t.Fatalf("runGoMod(given) = %q, %v", mod, err)
	}
	if want, err := exec.Command("git", "show", "HEAD:bench/go.mod").Output(); err == nil {
		if mod, err := runGoMod("", "HEAD"); err != nil || string(mod) != string(want) {
			t.Fatalf("runGoMod of commit HEAD = %q, %v; want HEAD's bench/go.mod", mod, err)
		}
	} else {
		t.Logf("no git history here (%v): the commit's go.mod is not checked", err)
	}
	t.Chdir(dir)
	if err := os.WriteFile("go.mod", []byte("require github.com/redis/rueidis v1.0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if mod, err := runGoMod("", "HEAD-dirty"); err != nil || !strings.Contains(string(mod), "v1.0.2") {
		t.Fatalf("runGoMod of a dirty run = %q, %v; want ./go.mod", mod, err)
	}
}
