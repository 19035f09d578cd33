package main

// A claim about speed holds only if two runs agree: heldChecks sets each
// target of this run beside the same target of an earlier run, and calls it
// met only when both runs met it.

// heldCheck is one target as two runs measured it.
type heldCheck struct {
	check           // this run's, with the combined verdict
	previous string // what the earlier run measured, "" without one
	onlyThis bool   // met in this run but not in the earlier one
}

// heldChecks combines the checks of this run (cur) with those of an earlier
// run (prev, nil when there is none). A target is met when both runs met
// it, missed when this run missed it, and "met in this run only" when the
// earlier run missed it or did not measure it; without an earlier run,
// this run's verdicts stand.
func heldChecks(cur, prev []check) []heldCheck {
	earlier := make(map[string]check, len(prev))
	for _, c := range prev {
		earlier[c.target] = c
	}
	out := make([]heldCheck, len(cur))
	for i, c := range cur {
		out[i] = heldCheck{check: c}
		if prev == nil {
			continue
		}
		p, ok := earlier[c.target]
		if !ok {
			p = check{measured: "not measured", verdict: notMeasured}
		}
		out[i].previous = p.measured
		out[i].onlyThis = c.verdict == met && p.verdict != met
	}
	return out
}

// verdictText is the verdict column of h.
func (h heldCheck) verdictText() string {
	if h.onlyThis {
		return "**met in this run only**"
	}
	return h.verdict.String()
}
