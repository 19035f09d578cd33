package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// workloadDocs describes each workload for readers of the report: what one
// operation is, and what each contender does in it.
var workloadDocs = map[string]string{
	"LocalHit": "A typed read of one hot key that each contender already holds in process memory. " +
		"typecache returns the value its decoded local tier holds (no decode, no copy); " +
		"go-redis/cache keeps encoded bytes in TinyLFU, so every hit decompresses (s2) and decodes (MessagePack); " +
		"rueidis `DoCache` keeps the RESP reply in its client-side cache, so every hit copies and decodes. " +
		"`round-trips/op` 0 means no I/O at all.",
	"RemoteHit": "A typed read of one key that Redis holds, with every local tier and client-side cache off: " +
		"one round trip and one decode per read. typecache runs with `DisableLocal`; " +
		"go-redis/cache has no local cache; rueidis and go-redis are a hand-written GET + decode with typecache's default codec (MessagePack in a checksummed frame).",
	"MissLoadStore": "A read of a key nobody has cached: the contender misses, calls an instant loader and stores the result. " +
		"typecache's `Fetch` and go-redis/cache's `Once` also deduplicate concurrent loads; rueidis and go-redis are a hand-written GET, load, SET. " +
		"`typecache` and `typecache-nolock` run with `DisableLocal`, as in RemoteHit; `typecache-local-tier` runs with the defaults, local tier on, " +
		"where a key's first remote read goes untracked (the tier admits a key on its second read, which is tracked, on the client's pipelined connection): " +
		"its cold miss sends the same two scripts on the direct connection.",
	"StoreValue": "A burst of writes of new keys, the same incompressible bytes for every contender at 100 B, 1,000 B and 10 KB: " +
		"`plain-set` is a bare SET with an expiry (rueidis), the baseline; typecache is a `cache.Cache[[]byte]` with `codec.Bytes` and its defaults; " +
		"go-redis/cache stores byte slices as they are. It runs on a redis-server of its own, flushed before each run. " +
		"After the one-goroutine burst: `redis-B/value` is Redis's `used_memory` grown per value stored, `keys/value` its key count grown per value, " +
		"and `guard-B/value` the `MEMORY USAGE` of the keys that hold no value (typecache's guard keys, which hold a write mark only after a delete or beside a value that expires within seconds), per value.",
	"ReadValue": "A read of one stored key, the same incompressible bytes for every contender at 100 B, 1,000 B and 10 KB, with every local tier off: " +
		"`plain-get` is a bare GET (rueidis), the baseline; typecache is a `Fetch` of a `cache.Cache[[]byte]` with `codec.Bytes` and `DisableLocal`, " +
		"whose read script also takes the load lease on a miss; go-redis/cache is a `Get`. Redis copies what a script reads into Lua and back, " +
		"at more than a microsecond per kilobyte: once a cache's values average 2 KiB or more, its script reads the value's header alone and a GET " +
		"in the same transaction reads the value (`redis-cpu-µs/op`).",
	"Stampede": "4 OS processes × 64 goroutines ask for the same cold key at the same moment; the loader takes 100 ms. " +
		"One op is one round on a new key. `loader-calls/op` is the loader calls of a round summed over the 4 processes; " +
		"`p50-ms` and `p99-ms` are the latencies the 256 callers saw; `client-cpu-µs/op` is the 4 processes' CPU time in a round.",
	"Lock": "Acquire and release of a lock nobody else wants; with 64 goroutines each has a lock of its own, so the locks stay uncontended " +
		"and `ops/s` is the client's throughput.",
	"LockHandoff": "Two lockers on separate clients pass one lock back and forth; `p50-ms` and `p99-ms` are the times from the start of a release " +
		"to the waiting side holding the lock. The CPU time includes the waiting side's, which a poller spends while the holder sleeps.",
	"RateLimit": "Rate-limit decisions (limit 1000/s, burst 1000 where the algorithm has one) " +
		"on one hot key (mostly denied) and spread over 10k keys (all allowed). `allowed-%` is the share of admitted requests.",
	"SessionRequest": "Requests through each contender's middleware: `read` reads one value of an existing session, `modify` changes one, " +
		"`create` starts a session and puts three values in it. Each goroutine has a session of its own, as each visitor of a site does.",
}

// guardFootprint describes, from the StoreValue rows, the keys typecache's
// cache keeps beside its values after a burst of writes (reported, not a
// target), or returns "" when the run has none of those rows.
func guardFootprint(r *run) string {
	var parts []string
	for _, size := range valueSizes {
		name := "StoreValue/" + size + "/typecache/" + single
		keys, ok1 := r.stat(name, "keys/value")
		guard, ok2 := r.stat(name, "guard-B/value")
		total, ok3 := r.stat(name, "redis-B/value")
		if !ok1 || !ok2 || !ok3 || total.median == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("at %s, %s keys per value stored (the value's own included) and %s per value in the keys that hold none, %.0f%% of its Redis memory per value",
			size, format("keys/value", keys.median), format("guard-B/value", guard.median), 100*guard.median/total.median))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Guard keys after a burst of writes (reported, not a target): right after the StoreValue burst, typecache's cache has, " +
		strings.Join(parts, "; ") + ". A stored value carries its own write mark: the keys beside the values would be guards (leases, and the marks of deletes and short-lived values)."
}

// columnOrder is the order of the table columns after time/op; units not
// listed follow in order of appearance.
var columnOrder = []string{"ops/s", "client-cpu-µs/op", "redis-cpu-µs/op", "redis-B/value", "keys/value", "guard-B/value", "round-trips/op", "allocs/op", "B/op"}

// markdownInputs are the parts of the report that do not come from the run.
type markdownInputs struct {
	source   string   // the raw output, relative to the repository root
	chart    string   // the SVG, relative to the markdown file
	versions []string // "module version" of each contender
	notes    string   // hand-written notes on this run, Markdown
	tier     *run     // make bench-tier's run; nil when absent
	tierSrc  string   // its raw output, relative to the repository root
	// previous is the run before this one, whose targets the verdicts
	// also check (a claim holds when two runs agree); nil when absent.
	previous    *run
	previousSrc string // its raw output, relative to the repository root
}

func writeMarkdown(w io.Writer, r *run, in markdownInputs) {
	c := r.config
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "<!-- Generated by `make bench-report` (bench/cmd/report) from %s. Do not edit by hand: rerun it. -->\n\n", in.source)
	fmt.Fprintf(w, "typecache side by side with the libraries people use for the same jobs, on the same ~1 KB value "+
		"(a `User` record of strings, numbers, a slice, a map and two timestamps) and the same Redis server, in one run of "+
		"`make bench`. Every figure on this page comes from the run stamped below (the targets table also shows the run before it); `%s` is its raw output, so you can "+
		"compare your own run with `benchstat %s your-run.txt`.\n\n", in.source, in.source)
	fmt.Fprintf(w, "| run | |\n|---|---|\n")
	fmt.Fprintf(w, "| date | %s |\n", c["date"])
	fmt.Fprintf(w, "| typecache | commit %s |\n", c["commit"])
	fmt.Fprintf(w, "| machine | %s, %s cores (%s/%s) |\n", c["cpu-model"], c["cores"], c["goos"], c["goarch"])
	fmt.Fprintf(w, "| Go | %s |\n", c["go"])
	fmt.Fprintf(w, "| Redis | %s, standalone, on the same machine |\n", c["redis"])
	fmt.Fprintf(w, "| method | `-count %s -benchtime %s -benchmem`; each figure is the median of the runs, ± the largest distance from the median to a run |\n", c["count"], c["benchtime"])
	fmt.Fprintf(w, "| contenders | %s |\n\n", strings.Join(in.versions, ", "))
	fmt.Fprintf(w, "Small machines are noisy: compare contenders within one run, not figures across runs or machines.\n\n")
	if failed := c["failed-workloads"]; failed != "" {
		fmt.Fprintf(w, "**Workloads that failed in this run: %s.** Their contenders that did not finish are missing below; the `make bench` output says why.\n\n", failed)
	}
	fmt.Fprintf(w, "![Benchmark chart: one panel per workload, typecache in blue](%s)\n\n", in.chart)

	if in.previous == nil {
		fmt.Fprintf(w, "## Targets\n\nThe performance targets this suite measures, each stated with its reason in the guides, checked against this run's medians (one run: no claim on this page has held in two yet):\n\n")
		fmt.Fprintf(w, "| target | this run | verdict |\n|---|---|---|\n")
		for _, ch := range heldChecks(checkTargets(r), nil) {
			fmt.Fprintf(w, "| %s | %s | %s |\n", ch.target, ch.measured, ch.verdictText())
		}
	} else {
		p := in.previous.config
		fmt.Fprintf(w, "## Targets\n\nThe performance targets this suite measures, each stated with its reason in the guides, checked against this run's medians and those of the run before it (%s, commit %s, raw output in `%s`). "+
			"A target is met only when both runs met it; \"met in this run only\" is not a claim.\n\n", p["date"], p["commit"], in.previousSrc)
		fmt.Fprintf(w, "| target | this run | previous run | verdict |\n|---|---|---|---|\n")
		for _, ch := range heldChecks(checkTargets(r), checkTargets(in.previous)) {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", ch.target, ch.measured, ch.previous, ch.verdictText())
		}
	}
	fmt.Fprintf(w, "\nMeasured by the packages' own tests rather than here: the local tier's bound while 1M keys stream through (`cache`), round trips per slot group of `FetchMany` on a cluster (`TestFetchManyRoundTrips`), and the round trips of every session request (`session.TestRoundTrips`).\n\n")
	if guards := guardFootprint(r); guards != "" {
		fmt.Fprintf(w, "%s\n\n", guards)
	}
	if in.notes != "" {
		fmt.Fprintf(w, "### Notes on this run\n\n%s\n\n", in.notes)
	}

	fmt.Fprintf(w, "## Workloads\n\n")
	fmt.Fprintf(w, "Every workload runs its operations from one goroutine (`1-goroutine`, latency) and from 64 at once (`64-goroutines`, throughput), "+
		"except Stampede and LockHandoff, which have a concurrency of their own, and LocalTierMemory, which measures the process's memory. Beside time/op: `ops/s` is operations per second of wall-clock time; "+
		"`client-cpu-µs/op` the CPU time (user and system, getrusage) of the benchmark process per operation, every goroutine of the client included; "+
		"`redis-cpu-µs/op` the CPU time of the Redis server per operation (`INFO cpu`); `round-trips/op` (one goroutine only) the requests written to Redis per operation; "+
		"`allocs/op` and `B/op` the client's allocations. On a shared machine the CPU times vary much less than the wall clock.\n\n")
	for _, name := range r.workloads() {
		fmt.Fprintf(w, "### %s\n\n", name)
		if doc := workloadDocs[name]; doc != "" {
			fmt.Fprintf(w, "%s\n\n", doc)
		}
		writeTable(w, r.inWorkload(name))
		fmt.Fprintln(w)
	}

	if in.tier != nil {
		writeTierSection(w, in.tier, in.tierSrc)
	}

	fmt.Fprintf(w, "## Reproduce\n\n")
	fmt.Fprintf(w, "```sh\nmake bench          # prints one benchstat table per workload\nmake bench-report   # also rewrites this page and its chart (the run before moves to bench/results/previous.txt)\nmake bench-tier     # the local tier's hit ratio and fill rejection (no Redis), for the next bench-report\n```\n\n")
	fmt.Fprintf(w, "`BENCH_COUNT` (default 6), `BENCHTIME` (default 300ms) and `BENCH_WORKLOADS` (e.g. `\"LocalHit Stampede\"`) adjust the run; "+
		"`REDIS_URL` points it at an existing server instead of a throwaway redis-server. The benchmarks are in `bench/` (its own Go module, "+
		"so the competitors never become typecache dependencies): `cd bench && go test -run '^$' -bench . -benchmem`.\n")
}

// writeTable writes one row per benchmark: time/op, then every other unit
// of the workload, those of columnOrder first.
func writeTable(w io.Writer, bs []*benchmark) {
	var units []string
	for _, u := range columnOrder {
		if slices.ContainsFunc(bs, func(b *benchmark) bool { return slices.Contains(b.units, u) }) {
			units = append(units, u)
		}
	}
	for _, b := range bs {
		for _, u := range b.units {
			if u != "ns/op" && !slices.Contains(units, u) {
				units = append(units, u)
			}
		}
	}
	fmt.Fprintf(w, "| benchmark | time/op | ± |")
	for _, u := range units {
		fmt.Fprintf(w, " %s |", u)
	}
	fmt.Fprintf(w, "\n|---|--:|--:|%s\n", strings.Repeat("--:|", len(units)))
	for _, b := range bs {
		_, sub, _ := strings.Cut(b.name, "/")
		fmt.Fprintf(w, "| %s |", sub)
		if t, ok := b.samples["ns/op"]; ok {
			s := summarize(t)
			fmt.Fprintf(w, " %s | %.0f%% |", duration(s.median), 100*s.spread())
		} else {
			fmt.Fprintf(w, " | |")
		}
		for _, u := range units {
			if v, ok := b.samples[u]; ok {
				fmt.Fprintf(w, " %s |", cell(u, summarize(v).median))
			} else {
				fmt.Fprintf(w, " |")
			}
		}
		fmt.Fprintln(w)
	}
}

// contenderVersions returns "module version" for the contenders' modules
// required by the bench module's go.mod.
func contenderVersions(goMod string) []string {
	wanted := []string{
		"github.com/go-redis/cache/v9", "github.com/redis/go-redis/v9", "github.com/go-redis/redis_rate/v10",
		"github.com/redis/rueidis", "github.com/alexedwards/scs/v2", "github.com/alexedwards/scs/redisstore", "github.com/gomodule/redigo",
	}
	var versions []string
	for _, line := range strings.Split(goMod, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && slices.Contains(wanted, fields[0]) {
			versions = append(versions, fields[0]+" "+fields[1])
		}
	}
	return versions
}

// cell formats a table cell: the unit is in the column header.
func cell(unit string, v float64) string {
	switch unit {
	case "p50-ms", "p99-ms":
		return strconv.FormatFloat(v, 'f', 1, 64)
	case "round-trips/op", "keys/value":
		return format(unit, v)
	case "redis-B/value", "guard-B/value":
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return sig3(v)
}
