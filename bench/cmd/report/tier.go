package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// fillRejectionBefore is the fill-rejection benchmark run on the local tier
// that came before internal/tier (commit bc26ba3: one generation per shard,
// 8 shards at 1k entries and 64 at 10k), by size and read latency: history,
// which no later run can measure again.
var fillRejectionBefore = map[string]string{
	"1k-entries/100k-inv-per-s/read-76µs":   "61.3",
	"1k-entries/100k-inv-per-s/read-500µs":  "99.8",
	"10k-entries/100k-inv-per-s/read-76µs":  "11.2",
	"10k-entries/100k-inv-per-s/read-500µs": "54.1",
}

// writeTierSection writes the local tier's figures of t, a run of
// `make bench-tier`: the hit ratio of internal/tier beside otter v2's on
// each stream and size, and the share of fills refused at an invalidation
// rate and read latency.
func writeTierSection(w io.Writer, t *run, source string) {
	fmt.Fprintf(w, "## Local tier\n\n")
	fmt.Fprintf(w, "The store of every package's local tier (`internal/tier`), measured without Redis by `make bench-tier` "+
		"(raw output: `%s`, %s, commit %s, %s). The figures depend on the streams and the hash seeds, not on the machine; "+
		"otter's hit ratios vary by a few tenths of a point between runs.\n\n", source, t.config["date"], t.config["commit"], t.config["go"])

	fmt.Fprintf(w, "### Hit ratio\n\n")
	fmt.Fprintf(w, "1M reads over 100k keys replayed by one goroutine; a miss fills the tier. Streams: Zipf 0.8, Zipf 1.0, "+
		"Zipf 1.0 with 20%% of the reads in sequential runs of 1,000 keys, and Zipf 1.0 whose hot set moves to other keys every 200k reads. "+
		"typecache's tier (S3-FIFO: small, main and ghost queues) against otter v2 (W-TinyLFU with an adaptive window), both bounded to the same number of entries. "+
		"The tier fills on every miss as session, counter and leaderboard fill it; a `cache.Cache` fills it on a key's second remote read within a while "+
		"(its first goes untracked: `tier.Doorkeeper`, four 32-bit slots per entry), which the cache column replays.\n\n")
	fmt.Fprintf(w, "| stream | entries | typecache tier hit-%% | typecache cache hit-%% | otter v2 hit-%% |\n|---|--:|--:|--:|--:|\n")
	ahead := true
	var cells []string
	for _, b := range t.inWorkload("HitRatio") {
		parts := strings.Split(b.name, "/")
		if len(parts) != 4 || parts[3] != "typecache" {
			continue
		}
		cell := strings.Join(parts[1:3], "/")
		ours, okOurs := t.stat(b.name, "hit-%")
		cached, okCached := t.stat("HitRatio/"+cell+"/typecache-cache", "hit-%")
		theirs, okTheirs := t.stat("HitRatio/"+cell+"/otter", "hit-%")
		if !okOurs || !okCached || !okTheirs || slices.Contains(cells, cell) {
			continue
		}
		cells = append(cells, cell)
		ahead = ahead && ours.median >= theirs.median && cached.median >= theirs.median
		fmt.Fprintf(w, "| %s | %s | %.2f | %.2f | %.2f |\n", parts[1], parts[2], ours.median, cached.median, theirs.median)
	}
	verdict := met
	if !ahead || len(cells) == 0 {
		verdict = missed
	}
	fmt.Fprintf(w, "\nTarget, hit ratio ≥ otter v2's on every stream and size: %s.\n\n", verdict)

	fmt.Fprintf(w, "### Fill rejection\n\n")
	fmt.Fprintf(w, "A read fills the tier only if no invalidation of a key of its generation stripe arrived while it was in flight. "+
		"Reads of random keys, each in flight for the read latency while invalidations of other keys arrive at 100k/s (virtual time): "+
		"every refusal is a stripe collision, a round trip lost, never a stale entry. The tier has at least 4,096 stripes (4 per entry up to 65,536); "+
		"the tier before it had one per shard. The tier admits every fill (no admission filter), so the admission column stays 0.\n\n")
	fmt.Fprintf(w, "| entries | invalidations | read | refused by the rule, before %% | refused by the rule %% | refused by admission %% |\n|--:|--:|--:|--:|--:|--:|\n")
	for _, b := range t.inWorkload("FillRejection") {
		_, sub, _ := strings.Cut(b.name, "/")
		parts := strings.Split(sub, "/")
		ruled, ok := t.stat(b.name, "rule-rejected-%")
		if len(parts) != 3 || !ok {
			continue
		}
		admission, _ := t.stat(b.name, "admission-rejected-%")
		before := fillRejectionBefore[sub]
		if before == "" {
			before = "–"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", strings.TrimSuffix(parts[0], "-entries"), strings.TrimSuffix(parts[1], "-inv-per-s")+"/s",
			strings.TrimPrefix(parts[2], "read-"), before, sig3(ruled.median), sig3(admission.median))
	}
	fmt.Fprintln(w)
}
