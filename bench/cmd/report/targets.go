package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// verdict is whether a run met one performance target.
type verdict int

const (
	met verdict = iota
	missed
	notMeasured
)

func (v verdict) String() string {
	switch v {
	case met:
		return "met"
	case missed:
		return "**missed**"
	}
	return "not measured"
}

// check is one performance target of the project against one run.
type check struct {
	target   string
	measured string
	verdict  verdict
}

// Constants of the performance targets and of the stampede workload.
const (
	localHitSpeedup     = 30   // × go-redis/cache's local hit
	localHitMaxNs       = 50   // ns/op
	remoteHitTolerance  = 0.10 // over plain rueidis GET + decode
	missMaxRoundTrips   = 2    // for miss + load + store, beyond the loader's own: the naive GET + SET's
	missMaxSlowdown     = 1.3  // × plain rueidis GET + SET
	missMaxAllocs       = 20   // per miss + load + store
	memoryMaxRatio      = 1.1  // Redis memory per stored value, × a plain SET of the same bytes
	lockMaxRatio        = 0.8  // uncontended Acquire + Release, × bsm/redislock, one goroutine, reply poll on (the default)
	lockPollOffMaxRatio = 1.0  // the same with the reply poll off
	lockMinThroughput   = 1.2  // × bsm/redislock's Acquire + Release per second, 64 goroutines
	lockMaxAllocs       = 15   // per uncontended Acquire + Release
	handoffP50Ms        = 0.25 // lock handed to a waiter
	handoffP99Ms        = 0.5
	sessionReadRatio    = 0.2 // × scs, an unchanged session read through the middleware
	sessionWriteRatio   = 1.0 // × scs, modify and create-and-fill
	stampedeLoaderMs    = 100 // the workload's loader time
	stampedeSlackMs     = 10  // allowed p99 wait beyond the loader time
)

// The sub-benchmarks of one caller at a time and of 64 at once (see
// callerCounts in the bench package).
const (
	single     = "1-goroutine"
	concurrent = "64-goroutines"
)

// valueSizes are the value sizes of the StoreValue workload.
var valueSizes = []string{"100B", "1000B", "10KB"}

// checkTargets compares medians of r with the targets; a benchmark missing
// from r makes its target "not measured".
func checkTargets(r *run) []check {
	var checks []check
	for _, mode := range []string{single, concurrent} {
		checks = append(checks, ratioCheck(r,
			fmt.Sprintf("local hit (%s) ≥ %d× as fast as go-redis/cache with TinyLFU", callersText(mode), localHitSpeedup),
			"LocalHit/go-redis-cache/"+mode, "LocalHit/typecache/"+mode, "ns/op", localHitSpeedup))
	}
	checks = append(checks, localHitAbsolute(r))
	remote := ratioCheck(r, fmt.Sprintf("remote hit within %d%% of plain rueidis GET + decode", int(remoteHitTolerance*100)),
		"RemoteHit/rueidis/"+single, "RemoteHit/typecache/"+single, "ns/op", 1/(1+remoteHitTolerance))
	miss := ratioCheck(r, fmt.Sprintf("miss + load + store, with the cross-process lease, ≤ %.1f× plain rueidis GET + SET", missMaxSlowdown),
		"MissLoadStore/rueidis/"+single, "MissLoadStore/typecache/"+single, "ns/op", 1/missMaxSlowdown)
	checks = append(checks, remote, missRoundTrips(r), miss,
		atMost(r, fmt.Sprintf("miss + load + store ≤ %d allocs", missMaxAllocs), "MissLoadStore/typecache/"+single, "allocs/op", missMaxAllocs))
	for _, size := range valueSizes {
		checks = append(checks, ratioCheck(r, fmt.Sprintf("Redis memory per stored value ≤ %.1f× a plain SET (%s values)", memoryMaxRatio, size),
			"StoreValue/"+size+"/plain-set/"+single, "StoreValue/"+size+"/typecache/"+single, "redis-B/value", 1/memoryMaxRatio))
	}
	checks = append(checks, stampedeLoads(r), stampedeWait(r))
	checks = append(checks,
		ratioCheck(r, fmt.Sprintf("lock: uncontended Acquire + Release ≤ %.1f× bsm/redislock (1 goroutine, reply poll on: the default)", lockMaxRatio),
			"Lock/redislock/uncontended/"+single, "Lock/typecache/uncontended/"+single, "ns/op", 1/lockMaxRatio),
		ratioCheck(r, fmt.Sprintf("lock: uncontended Acquire + Release ≤ %.1f× bsm/redislock (1 goroutine, reply poll off)", lockPollOffMaxRatio),
			"Lock/redislock/uncontended/"+single, "Lock/typecache-nopoll/uncontended/"+single, "ns/op", 1/lockPollOffMaxRatio),
		ratioCheck(r, fmt.Sprintf("lock: uncontended Acquire + Release throughput ≥ %.1f× bsm/redislock (64 goroutines)", lockMinThroughput),
			"Lock/redislock/uncontended/"+concurrent, "Lock/typecache/uncontended/"+concurrent, "ops/s", lockMinThroughput),
		atMost(r, fmt.Sprintf("lock: uncontended Acquire + Release ≤ %d allocs", lockMaxAllocs), "Lock/typecache/uncontended/"+single, "allocs/op", lockMaxAllocs),
		atMost(r, fmt.Sprintf("lock handoff to a waiter: p50 ≤ %.2f ms", handoffP50Ms), "LockHandoff/typecache", "p50-ms", handoffP50Ms),
		atMost(r, fmt.Sprintf("lock handoff to a waiter: p99 ≤ %.1f ms", handoffP99Ms), "LockHandoff/typecache", "p99-ms", handoffP99Ms),
		ratioCheck(r, fmt.Sprintf("session read (unchanged) ≤ %.1f× scs", sessionReadRatio),
			"SessionRequest/read/scs-redisstore/"+single, "SessionRequest/read/typecache/"+single, "ns/op", 1/sessionReadRatio),
		ratioCheck(r, fmt.Sprintf("session modify ≤ %.1f× scs", sessionWriteRatio),
			"SessionRequest/modify/scs-redisstore/"+single, "SessionRequest/modify/typecache/"+single, "ns/op", 1/sessionWriteRatio),
		ratioCheck(r, fmt.Sprintf("session create and fill ≤ %.1f× scs", sessionWriteRatio),
			"SessionRequest/create/scs-redisstore/"+single, "SessionRequest/create/typecache/"+single, "ns/op", 1/sessionWriteRatio),
	)
	// Rate limits: each algorithm against the floor (the least a correct
	// fixed-window decision can do per round trip) and against redis_rate,
	// in throughput with 64 goroutines; allocations with one, where the
	// count is the decision's own.
	for _, keys := range []string{"1-key", "10k-keys"} {
		for _, a := range []struct {
			name  string
			floor float64
		}{{"fixed-window", 0.95}, {"gcra", 0.85}, {"sliding-window-counter", 0.85}, {"sliding-window-log", 0.7}} {
			candidate := "RateLimit/typecache-" + a.name + "/" + keys + "/"
			checks = append(checks,
				ratioCheck(r, fmt.Sprintf("rate limit %s ≥ %.2f× the floor (%s)", a.name, a.floor, keys),
					"RateLimit/floor-fixed-window/"+keys+"/"+concurrent, candidate+concurrent, "ops/s", a.floor),
				ratioCheck(r, fmt.Sprintf("rate limit %s ≥ 1.5× redis_rate (%s)", a.name, keys),
					"RateLimit/redis_rate-gcra/"+keys+"/"+concurrent, candidate+concurrent, "ops/s", 1.5),
				atMost(r, fmt.Sprintf("rate limit %s ≤ 3 allocs per decision (%s)", a.name, keys), candidate+single, "allocs/op", 3))
		}
	}
	return append(checks, cpuChecks(r)...)
}

// callersText says "1 goroutine" for single, "64 goroutines" for concurrent.
func callersText(callers string) string { return strings.ReplaceAll(callers, "-", " ") }

// cpuPeers are, per workload, the contenders whose client CPU time per
// operation no typecache row may exceed, with the same callers. Workloads
// with a concurrency of their own have no 1- and 64-goroutine rows.
var cpuPeers = []struct {
	workload       string
	peers          []string
	ownConcurrency bool
}{
	{"LocalHit", []string{"go-redis-cache", "rueidis-docache"}, false},
	{"RemoteHit", []string{"go-redis-cache", "rueidis", "go-redis"}, false},
	{"MissLoadStore", []string{"go-redis-cache", "rueidis", "go-redis"}, false},
	{"StoreValue", []string{"plain-set", "go-redis-cache"}, false},
	{"ReadValue", []string{"plain-get", "go-redis-cache"}, false},
	{"FetchMany100", []string{"rueidis"}, false},
	{"Stampede", []string{"go-redis-cache"}, true},
	{"Lock", []string{"redislock"}, false},
	{"LockHandoff", []string{"redislock"}, true},
	{"RateLimit", []string{"redis_rate-gcra"}, false},
	{"SessionRequest", []string{"scs-redisstore"}, false},
	{"CounterAdd", []string{"go-redis-incr-expire"}, false},
	{"CounterGet", []string{"go-redis-incr-expire"}, false},
	{"LeaderboardAddTop", []string{"go-redis-zadd-zrevrange"}, false},
	{"LeaderboardTop", []string{"go-redis-zadd-zrevrange"}, false},
}

const cpuUnit = "client-cpu-µs/op"

// cpuChecks requires, per workload and number of callers, every typecache
// row's client CPU time per operation to be at most each peer's in the same
// sub-benchmark (the same value size, key count or request). The measured
// cell names the pair with the highest ratio.
func cpuChecks(r *run) []check {
	var checks []check
	for _, w := range cpuPeers {
		callerRows := []string{single, concurrent}
		if w.ownConcurrency {
			callerRows = []string{""}
		}
		for _, callers := range callerRows {
			target := fmt.Sprintf("client CPU/op of every typecache row ≤ %s (%s", strings.Join(w.peers, ", "), w.workload)
			if callers != "" {
				target += ", " + callersText(callers)
			}
			target += ")"
			var (
				pairs, within    int
				worst            float64
				candidate, peer  string
				candCPU, peerCPU float64
			)
			for _, b := range r.inWorkload(w.workload) {
				parts := strings.Split(b.name, "/")
				i := slices.IndexFunc(parts, func(p string) bool { return strings.HasPrefix(p, "typecache") })
				cand, ok := r.stat(b.name, cpuUnit)
				if i < 0 || !ok || (callers != "" && parts[len(parts)-1] != callers) {
					continue
				}
				for _, p := range w.peers {
					parts[i] = p
					ref, ok := r.stat(strings.Join(parts, "/"), cpuUnit)
					if !ok || ref.median == 0 {
						continue
					}
					ratio := cand.median / ref.median
					pairs++
					if ratio <= 1 {
						within++
					}
					if ratio > worst {
						worst, candidate, peer, candCPU, peerCPU = ratio, b.name, strings.Join(parts, "/"), cand.median, ref.median
					}
				}
			}
			if pairs == 0 {
				checks = append(checks, check{target, "no typecache row and peer with " + cpuUnit + " in this run", notMeasured})
				continue
			}
			c := check{target: target, verdict: missed}
			if within == pairs {
				c.verdict = met
			}
			c.measured = fmt.Sprintf("%d of %d pairs within; highest: %s %s vs %s %s (%s×)", within, pairs,
				candidate, format(cpuUnit, candCPU), peer, format(cpuUnit, peerCPU), sig3(worst))
			checks = append(checks, c)
		}
	}
	return checks
}

// ratioCheck requires candidate to be at least want times as fast (or as
// frugal) as ref in unit: ref/candidate for times and other costs,
// candidate/ref for throughputs.
func ratioCheck(r *run, target, ref, candidate, unit string, want float64) check {
	refStat, ok1 := r.stat(ref, unit)
	candStat, ok2 := r.stat(candidate, unit)
	if !ok1 || !ok2 {
		return check{target, missingOf(r, unit, ref, candidate), notMeasured}
	}
	speedup := refStat.median / candStat.median
	if higherIsBetter(unit) {
		speedup = 1 / speedup
	}
	c := check{target: target, verdict: missed}
	if speedup >= want {
		c.verdict = met
	}
	c.measured = fmt.Sprintf("%s %s vs %s %s: %s", candidate, format(unit, candStat.median), ref, format(unit, refStat.median), ratioText(unit, speedup))
	return c
}

// ratioText says how a candidate compares with its reference, given
// ratioCheck's speedup: "2.07× as fast" in time or throughput, "1.33× as
// much" of another cost.
func ratioText(unit string, speedup float64) string {
	if unit == "ns/op" || higherIsBetter(unit) {
		return sig3(speedup) + "× as fast"
	}
	return sig3(1/speedup) + "× as much"
}

// higherIsBetter reports whether larger values of unit are better.
func higherIsBetter(unit string) bool { return unit == "ops/s" }

// atMost requires the median of name in unit to be at most limit.
func atMost(r *run, target, name, unit string, limit float64) check {
	st, ok := r.stat(name, unit)
	if !ok {
		return check{target, missingOf(r, unit, name), notMeasured}
	}
	c := check{target: target, verdict: missed, measured: format(unit, st.median) + " " + unit}
	if st.median <= limit {
		c.verdict = met
	}
	return c
}

func localHitAbsolute(r *run) check {
	const name = "LocalHit/typecache/" + single
	target := fmt.Sprintf("local hit ≤ %d ns/op and 0 allocs/op", localHitMaxNs)
	ns, ok1 := r.stat(name, "ns/op")
	allocs, ok2 := r.stat(name, "allocs/op")
	if !ok1 || !ok2 {
		return check{target, missingOf(r, "ns/op", name), notMeasured}
	}
	c := check{target: target, verdict: missed, measured: fmt.Sprintf("%s, %s allocs/op", format("ns/op", ns.median), sig3(allocs.max))}
	if ns.median <= localHitMaxNs && allocs.max == 0 {
		c.verdict = met
	}
	return c
}

func missRoundTrips(r *run) check {
	const name = "MissLoadStore/typecache/" + single
	target := fmt.Sprintf("miss + load + store ≤ %d round trips beyond the loader", missMaxRoundTrips)
	trips, ok := r.stat(name, "round-trips/op")
	if !ok {
		return check{target, missingOf(r, "round-trips/op", name), notMeasured}
	}
	c := check{target: target, verdict: missed, measured: fmt.Sprintf("typecache %s round trips/op", format("round-trips/op", trips.median))}
	// Connection keep-alive PINGs add a few writes per second of benchmark.
	if trips.median < missMaxRoundTrips+0.05 {
		c.verdict = met
	}
	return c
}

func stampedeLoads(r *run) check {
	const name = "Stampede/typecache"
	target := "stampede (4 processes × 64 goroutines): exactly 1 loader call per cold key"
	calls, ok := r.stat(name, "loader-calls/op")
	if !ok {
		return check{target, missingOf(r, "loader-calls/op", name), notMeasured}
	}
	c := check{target: target, verdict: missed}
	if calls.min == 1 && calls.max == 1 {
		c.verdict = met
		c.measured = "typecache: 1 in every round of every run"
	} else {
		c.measured = fmt.Sprintf("typecache: %s to %s per round (mean of each run)", sig3(calls.min), sig3(calls.max))
	}
	if other, ok := r.stat("Stampede/go-redis-cache", "loader-calls/op"); ok {
		c.measured += fmt.Sprintf("; go-redis/cache Once: %s", sig3(other.median))
	}
	return c
}

func stampedeWait(r *run) check {
	const name = "Stampede/typecache"
	limit := float64(stampedeLoaderMs + stampedeSlackMs)
	target := fmt.Sprintf("stampede: p99 wait ≤ loader time + %d ms (%s ms)", stampedeSlackMs, sig3(limit))
	p99, ok := r.stat(name, "p99-ms")
	if !ok {
		return check{target, missingOf(r, "p99-ms", name), notMeasured}
	}
	c := check{target: target, verdict: missed, measured: fmt.Sprintf("typecache p99 %s (median of runs)", format("p99-ms", p99.median))}
	if p99.median <= limit {
		c.verdict = met
	}
	return c
}

// missingOf says which of names has no samples in unit.
func missingOf(r *run, unit string, names ...string) string {
	for _, n := range names {
		if _, ok := r.stat(n, unit); !ok {
			return "no " + n + " in this run"
		}
	}
	return ""
}

// format renders a median in its unit for people.
func format(unit string, v float64) string {
	switch unit {
	case "ns/op":
		return duration(v)
	case "ops/s":
		return sig3(v) + "/s"
	case "client-cpu-µs/op", "redis-cpu-µs/op":
		return sig3(v) + " µs"
	case "redis-B/value", "guard-B/value":
		return strconv.FormatFloat(v, 'f', 0, 64) + " B"
	case "keys/value":
		return strconv.FormatFloat(v, 'f', 2, 64)
	case "p50-ms", "p99-ms":
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	case "round-trips/op":
		// Keep-alive PINGs add a few writes per second: 1.0000001 is 1.
		return strconv.FormatFloat(v, 'f', 2, 64)
	case "allowed-%":
		return sig3(v) + "%"
	case "B/op":
		return strconv.FormatFloat(v, 'f', 0, 64) + " B"
	}
	return sig3(v)
}

// duration renders nanoseconds with three significant digits.
func duration(ns float64) string {
	switch {
	case ns < 1e3:
		return sig3(ns) + " ns"
	case ns < 1e6:
		return sig3(ns/1e3) + " µs"
	case ns < 1e9:
		return sig3(ns/1e6) + " ms"
	}
	return sig3(ns/1e9) + " s"
}

// sig3 formats v with three significant digits (whole numbers as they are),
// and no exponent.
func sig3(v float64) string {
	if v == math.Trunc(v) || math.Abs(v) >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	digits := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	return strconv.FormatFloat(v, 'f', digits, 64)
}
