package faults_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
)

// entry is the cached value of the workloads: it names its key and the
// sequence of the write that stored it, so every read can be checked.
type entry struct {
	Key string `msgpack:"k"`
	Seq int64  `msgpack:"s"`
}

// mix describes a mixed workload over keys "k0000"… of one cache name.
// Key i is owned by writer goroutine i % owners: only that goroutine
// writes or deletes it, so its operations are sequential.
type mix struct {
	keys       int
	goroutines int
	// ownerBase is the owner number of this run's goroutine 0, owners the
	// total number of writer goroutines over every process.
	ownerBase, owners int
	// readPct and writePct of 100; the rest are deletes.
	readPct, writePct int
	// cacheFor returns the cache goroutine g uses and the client number
	// recorded with its operations.
	cacheFor func(g int) (*cache.Cache[entry], int8)
}

func keyName(i int32) string { return fmt.Sprintf("k%04d", i) }

// writerOf returns the client number that owns key i, given the client of
// each owner.
func (m mix) writerOf(clientOfOwner func(owner int) int8) func(int32) int8 {
	return func(i int32) int8 { return clientOfOwner(int(i) % m.owners) }
}

// run drives the workload until ctx ends and returns every operation.
// Each call has its own opTimeout deadline.
func (m mix) run(ctx context.Context) []op {
	logs := make([][]op, m.goroutines)
	var wg sync.WaitGroup
	for g := range m.goroutines {
		wg.Go(func() { logs[g] = m.worker(ctx, g) })
	}
	wg.Wait()
	var all []op
	for _, l := range logs {
		all = append(all, l...)
	}
	return all
}

func (m mix) worker(ctx context.Context, g int) []op {
	c, client := m.cacheFor(g)
	owner := m.ownerBase + g
	var own []int32
	for i := owner; i < m.keys; i += m.owners {
		own = append(own, int32(i))
	}
	rng := rand.New(rand.NewPCG(uint64(owner), 1))
	var log []op
	var seq int64
	for ctx.Err() == nil {
		o := op{Client: client}
		roll := rng.IntN(100)
		switch {
		case roll < m.readPct || len(own) == 0:
			o.Kind, o.Key = opRead, int32(rng.IntN(m.keys))
		case roll < m.readPct+m.writePct:
			seq++
			o.Kind, o.Key, o.Seq = opWrite, own[rng.IntN(len(own))], seq
		default:
			seq++
			o.Kind, o.Key, o.Seq = opDelete, own[rng.IntN(len(own))], seq
		}
		key := keyName(o.Key)
		callCtx, cancel := context.WithTimeout(context.Background(), opTimeout)
		o.Start = time.Now().UnixNano()
		var err error
		switch o.Kind {
		case opRead:
			var e entry
			e, err = c.Get(callCtx, key)
			switch {
			case errors.Is(err, cache.ErrNotFound):
				err = nil
			case err == nil && e.Key != key:
				o.Seq = seqForeign
			case err == nil:
				o.Seq = e.Seq
			}
		case opWrite:
			err = c.Set(callCtx, key, entry{Key: key, Seq: o.Seq})
		case opDelete:
			err = c.Delete(callCtx, key)
		}
		o.End = time.Now().UnixNano()
		cancel()
		o.OK = err == nil
		o.Breaker = errors.Is(err, cache.ErrUnavailable)
		log = append(log, o)
	}
	return log
}

// summary is the throughput and latency of a recorded run.
type summary struct {
	ops           int
	opsPerSec     float64
	p50, p99, max time.Duration
}

func summarize(ops []op, took time.Duration) summary {
	d := make([]time.Duration, len(ops))
	for i, o := range ops {
		d[i] = time.Duration(o.End - o.Start)
	}
	s := summary{ops: len(ops), opsPerSec: float64(len(ops)) / took.Seconds()}
	s.p50, s.p99, s.max = percentiles(d)
	return s
}

// between returns the operations that started in [from, to).
func between(ops []op, from, to int64) []op {
	var out []op
	for _, o := range ops {
		if o.Start >= from && o.Start < to {
			out = append(out, o)
		}
	}
	return out
}

// requireClean fails t unless v has no mismatch and no hang, and logs it.
func requireClean(t *testing.T, v verdict) {
	t.Helper()
	t.Logf("checked %d reads, %d writes, %d deletes; %d calls failed (%d refused by the open breaker); %d mismatches; %d hangs",
		v.Reads, v.Writes, v.Deletes, v.Errors, v.BreakerErrors, v.Mismatches, v.Hangs)
	if v.Reads == 0 || v.Writes == 0 {
		t.Fatalf("the workload did nothing: %+v", v)
	}
	if v.Mismatches != 0 {
		t.Errorf("%d wrong values returned; first ones:\n%s", v.Mismatches, joinLines(v.Examples))
	}
	if v.Hangs != 0 {
		t.Errorf("%d calls outlived their %s deadline by more than %s", v.Hangs, opTimeout, hangSlack)
	}
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}
