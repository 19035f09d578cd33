package tier

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// BenchmarkGet measures a hit, on one goroutine and on all of them (the
// figure per op should not grow with the goroutines: hits share no writes).
func BenchmarkGet(b *testing.B) {
	tr := New[int](Options{MaxEntries: 10_000})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key:" + strconv.Itoa(i)
		fill(tr, tr.Begin(keys[i]), keys[i], i)
	}
	b.Run("one-goroutine", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if tr.Get(keys[i&1023]) == nil {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if tr.Get(keys[i&1023]) == nil {
					b.Fatal("miss")
				}
				i++
			}
		})
	})
	b.Run("parallel-one-key", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if tr.Get(keys[0]) == nil {
					b.Fatal("miss")
				}
			}
		})
	})
}

// BenchmarkFillRejection replays reads in virtual time: each read of a
// random key is in flight for a read latency, during which invalidations
// of other random keys arrive at the given rate (a Poisson count), and
// then fills. It reports the share of fills the rule refused (a stripe
// collision: none of the reads' own keys changed) and the share refused
// for any other reason (an admission filter, were there one; this tier
// admits every fill), at 100k invalidations/s, two read latencies and two sizes (the stripes
// grow with the bound, from 4,096).
func BenchmarkFillRejection(b *testing.B) {
	for _, entries := range []int{1_000, 10_000} {
		for _, latency := range []time.Duration{76 * time.Microsecond, 500 * time.Microsecond} {
			b.Run(strconv.Itoa(entries/1000)+"k-entries/100k-inv-per-s/read-"+latency.String(), func(b *testing.B) {
				benchmarkFillRejection(b, New[int](Options{MaxEntries: entries}), latency)
			})
		}
	}
}

func benchmarkFillRejection(b *testing.B, tr *Tier[int], latency time.Duration) {
	const rate = 100_000.0
	mean := rate * latency.Seconds()
	rng := rand.New(rand.NewPCG(1, 2))
	names := make([]string, 1<<20)
	for i := range names {
		names[i] = "key:" + strconv.Itoa(i)
	}
	var reads, ruled, other int
	b.ReportAllocs()
	for b.Loop() {
		key := names[rng.IntN(1<<19)]
		tk := tr.Begin(key)
		for range poisson(rng, mean) {
			tr.Invalidate(names[1<<19+rng.IntN(1<<19)])
		}
		switch fill(tr, tk, key, 1) {
		case Kept:
		case Overtaken:
			ruled++
		default:
			other++
		}
		reads++
	}
	b.ReportMetric(100*float64(ruled)/float64(reads), "rule-rejected-%")
	b.ReportMetric(100*float64(other)/float64(reads), "admission-rejected-%")
}

// poisson draws from a Poisson law of the given mean (Knuth's method: the
// means here are small).
func poisson(rng *rand.Rand, mean float64) int {
	limit, n, p := math.Exp(-mean), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= limit {
			return n
		}
		n++
	}
}
