package main

import (
	"fmt"
	"math"
	"strconv"
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
	localHitSpeedup    = 30   // × go-redis/cache's local hit
	localHitMaxNs      = 50   // ns/op
	remoteHitTolerance = 0.10 // over plain rueidis GET + decode
	missMaxRoundTrips  = 2    // for miss + load + store, beyond the loader's own: the naive GET + SET's
	missMaxSlowdown    = 1.3  // × plain rueidis GET + SET
	lockMaxRatio       = 0.8  // uncontended Acquire + Release, × bsm/redislock
	lockMaxAllocs      = 15   // per uncontended Acquire + Release
	handoffP50Ms       = 0.25 // lock handed to a waiter
	handoffP99Ms       = 0.5
	sessionReadRatio   = 0.2 // × scs, an unchanged session read through the middleware
	sessionWriteRatio  = 1.0 // × scs, modify and create-and-fill
	stampedeLoaderMs   = 100 // the workload's loader time
	stampedeSlackMs    = 10  // allowed p99 wait beyond the loader time
)

// checkTargets compares medians of r with the targets; a benchmark missing
// from r makes its target "not measured".
func checkTargets(r *run) []check {
	var checks []check
	for _, mode := range []string{"single", "parallel"} {
		checks = append(checks, ratioCheck(r,
			fmt.Sprintf("local hit (%s) ≥ %d× as fast as go-redis/cache with TinyLFU", mode, localHitSpeedup),
			"LocalHit/go-redis-cache/"+mode, "LocalHit/typecache/"+mode, "ns/op", localHitSpeedup))
	}
	checks = append(checks, localHitAbsolute(r))
	remote := ratioCheck(r, fmt.Sprintf("remote hit within %d%% of plain rueidis GET + decode", int(remoteHitTolerance*100)),
		"RemoteHit/rueidis/single", "RemoteHit/typecache/single", "ns/op", 1/(1+remoteHitTolerance))
	miss := ratioCheck(r, fmt.Sprintf("miss + load + store, with the cross-process lease, ≤ %.1f× plain rueidis GET + SET", missMaxSlowdown),
		"MissLoadStore/rueidis", "MissLoadStore/typecache", "ns/op", 1/missMaxSlowdown)
	checks = append(checks, remote, missRoundTrips(r), miss, stampedeLoads(r), stampedeWait(r))
	checks = append(checks,
		ratioCheck(r, fmt.Sprintf("lock: uncontended Acquire + Release ≤ %.1f× bsm/redislock", lockMaxRatio),
			"Lock/redislock/uncontended", "Lock/typecache/uncontended", "ns/op", 1/lockMaxRatio),
		atMost(r, fmt.Sprintf("lock: uncontended Acquire + Release ≤ %d allocs", lockMaxAllocs), "Lock/typecache/uncontended", "allocs/op", lockMaxAllocs),
		atMost(r, fmt.Sprintf("lock handoff to a waiter: p50 ≤ %.2f ms", handoffP50Ms), "LockHandoff/typecache", "p50-ms", handoffP50Ms),
		atMost(r, fmt.Sprintf("lock handoff to a waiter: p99 ≤ %.1f ms", handoffP99Ms), "LockHandoff/typecache", "p99-ms", handoffP99Ms),
		ratioCheck(r, fmt.Sprintf("session read (unchanged) ≤ %.1f× scs", sessionReadRatio),
			"SessionRequest/read/scs-redisstore", "SessionRequest/read/typecache", "ns/op", 1/sessionReadRatio),
		ratioCheck(r, fmt.Sprintf("session modify ≤ %.1f× scs", sessionWriteRatio),
			"SessionRequest/modify/scs-redisstore", "SessionRequest/modify/typecache", "ns/op", 1/sessionWriteRatio),
		ratioCheck(r, fmt.Sprintf("session create and fill ≤ %.1f× scs", sessionWriteRatio),
			"SessionRequest/create/scs-redisstore", "SessionRequest/create/typecache", "ns/op", 1/sessionWriteRatio),
	)
	// Rate limits: each algorithm against the floor (the least a correct
	// fixed-window decision can do per round trip) and against redis_rate.
	for _, keys := range []string{"1-key", "10k-keys"} {
		for _, a := range []struct {
			name  string
			floor float64
		}{{"fixed-window", 0.95}, {"gcra", 0.85}, {"sliding-window-counter", 0.85}, {"sliding-window-log", 0.7}} {
			candidate := "RateLimit/typecache-" + a.name + "/" + keys
			checks = append(checks,
				ratioCheck(r, fmt.Sprintf("rate limit %s ≥ %.2f× the floor (%s)", a.name, a.floor, keys),
					"RateLimit/floor-fixed-window/"+keys, candidate, "decisions/s", a.floor),
				ratioCheck(r, fmt.Sprintf("rate limit %s ≥ 1.5× redis_rate (%s)", a.name, keys),
					"RateLimit/redis_rate-gcra/"+keys, candidate, "decisions/s", 1.5),
				atMost(r, fmt.Sprintf("rate limit %s ≤ 3 allocs per decision (%s)", a.name, keys), candidate, "allocs/op", 3))
		}
	}
	return checks
}

// ratioCheck requires candidate to be at least want times as fast as ref in
// unit: ref/candidate for times, candidate/ref for throughputs.
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
	c.measured = fmt.Sprintf("%s %s vs %s %s: %s× as fast", candidate, format(unit, candStat.median), ref, format(unit, refStat.median), sig3(speedup))
	return c
}

// higherIsBetter reports whether larger values of unit are better.
func higherIsBetter(unit string) bool { return unit == "decisions/s" }

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
	const name = "LocalHit/typecache/single"
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
	const name = "MissLoadStore/typecache"
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
	case "decisions/s":
		return sig3(v) + "/s"
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
