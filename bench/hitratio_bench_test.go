package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/maypok86/otter/v2"

	"github.com/typecache/typecache/internal/tier"
)

// The hit-ratio streams: 1M reads over 100k keys, replayed by one goroutine
// against a local tier that a miss fills. The tier is typecache's
// (internal/tier, the store of every package's local tier) or otter v2's
// W-TinyLFU, each bounded to the same number of entries.
const (
	streamReads = 1_000_000
	streamKeys  = 100_000
)

// hitStream is one workload of BenchmarkHitRatio.
type hitStream struct {
	name string
	gen  func(rng *rand.Rand) []int
}

var hitStreams = []hitStream{
	{"zipf-0.8", func(rng *rand.Rand) []int { return zipfReads(rng, 0.8, 0, 0) }},
	{"zipf-1.0", func(rng *rand.Rand) []int { return zipfReads(rng, 1.0, 0, 0) }},
	{"zipf-1.0+scans", func(rng *rand.Rand) []int { return zipfReads(rng, 1.0, 0.2, 0) }},
	{"shifting-hot-set", func(rng *rand.Rand) []int { return zipfReads(rng, 1.0, 0, 200_000) }},
}

// zipfReads returns streamReads key ids drawn from a Zipf law of exponent s
// over streamKeys ranks (rank r has weight 1/r^s), the ranks mapped to keys
// by a random permutation. A share scan of the reads comes in sequential
// runs of 1,000 keys (a cursor walking the whole key space), and every
// reshuffle reads (if not 0) the permutation is drawn again: the hot set
// moves to other keys.
func zipfReads(rng *rand.Rand, s, scan float64, reshuffle int) []int {
	cdf := make([]float64, streamKeys)
	sum := 0.0
	for r := range cdf {
		sum += 1 / math.Pow(float64(r+1), s)
		cdf[r] = sum
	}
	keyOf := rng.Perm(streamKeys)
	reads := make([]int, 0, streamReads)
	const run = 1000
	cursor := 0
	for len(reads) < streamReads {
		if reshuffle > 0 && len(reads) > 0 && len(reads)%reshuffle == 0 {
			keyOf = rng.Perm(streamKeys)
		}
		if scan > 0 && len(reads)%run == 0 && rng.Float64() < scan {
			for range min(run, streamReads-len(reads)) {
				reads = append(reads, cursor)
				cursor = (cursor + 1) % streamKeys
			}
			continue
		}
		r, _ := slices.BinarySearch(cdf, rng.Float64()*sum)
		reads = append(reads, keyOf[min(r, streamKeys-1)])
	}
	return reads
}

var (
	streamsOnce       sync.Once
	streamReadsByName map[string][]string
)

// streamFor returns the keys of the named stream, generated once per run
// with a fixed seed, so that every contender replays the same reads.
func streamFor(name string) []string {
	streamsOnce.Do(func() {
		streamReadsByName = map[string][]string{}
		names := make([]string, streamKeys)
		for i := range names {
			names[i] = "key:" + strconv.Itoa(i)
		}
		for i, s := range hitStreams {
			ids := s.gen(rand.New(rand.NewPCG(42, uint64(i))))
			keys := make([]string, len(ids))
			for j, id := range ids {
				keys[j] = names[id]
			}
			streamReadsByName[s.name] = keys
		}
	})
	return streamReadsByName[name]
}

// BenchmarkHitRatio replays each stream against each local tier at 1k and
// 10k entries and reports the share of reads served by the tier (hit-%):
// typecache's tier as session, counter and leaderboard fill it (every
// read), as a cache.Cache fills it (a key's second read within a while,
// typecache-cache), and otter's.
// One iteration replays the whole stream: run it with -benchtime 1x.
func BenchmarkHitRatio(b *testing.B) {
	contenders := []struct {
		name string
		run  func(entries int, keys []string) int
	}{
		{"typecache", func(entries int, keys []string) int {
			t := tier.New[struct{}](tier.Options{MaxEntries: entries})
			hits := 0
			for _, k := range keys {
				if t.Get(k) != nil {
					hits++
					continue
				}
				tk := t.Begin(k)
				t.Fill(tk, t.NewEntry(k, tier.Meta{Weight: 1}))
			}
			return hits
		}},
		{"typecache-cache", func(entries int, keys []string) int {
			// As a cache.Cache admits: a key's first remote read is
			// untracked and fills nothing (tier.Doorkeeper).
			t := tier.New[struct{}](tier.Options{MaxEntries: entries})
			door := tier.NewDoorkeeper(entries)
			hits := 0
			for _, k := range keys {
				if t.Get(k) != nil {
					hits++
					continue
				}
				if door.Seen(k) {
					tk := t.Begin(k)
					t.Fill(tk, t.NewEntry(k, tier.Meta{Weight: 1}))
				}
			}
			return hits
		}},
		{"otter", func(entries int, keys []string) int {
			c := otter.Must(&otter.Options[string, struct{}]{MaximumSize: entries})
			hits := 0
			for _, k := range keys {
				if _, ok := c.GetIfPresent(k); ok {
					hits++
					continue
				}
				c.Set(k, struct{}{})
			}
			return hits
		}},
	}
	for _, s := range hitStreams {
		for _, entries := range []int{1_000, 10_000} {
			for _, c := range contenders {
				b.Run(s.name+"/"+strconv.Itoa(entries/1000)+"k/"+c.name, func(b *testing.B) {
					keys := streamFor(s.name)
					hits := 0
					for b.Loop() {
						hits = c.run(entries, keys)
					}
					b.ReportMetric(100*float64(hits)/float64(len(keys)), "hit-%")
				})
			}
		}
	}
}
