package faults_test

import (
	"fmt"
	"sort"
	"time"
)

// opKind is what one recorded operation did.
type opKind int8

const (
	opRead opKind = iota + 1
	opWrite
	opDelete
)

// seqForeign marks a read that returned a value belonging to another key.
const seqForeign = -1

// op is one recorded operation of a workload. Every key has exactly one
// writer goroutine, so a key's writes and deletes are sequential and their
// Seq (from the writer's counter) orders them as Redis applied them.
// Fields are fixed-size so that helper processes can ship their logs with
// encoding/binary.
type op struct {
	Key     int32
	Client  int8 // which client (or process) issued it
	Kind    opKind
	OK      bool  // the call returned without error
	Breaker bool  // the call failed with cache.ErrUnavailable (breaker open)
	Seq     int64 // write/delete: its sequence; read: the sequence seen, 0 = not found
	Start   int64 // unix nanoseconds
	End     int64
}

// checkOptions says how strict the check is.
type checkOptions struct {
	// crossBound is the staleness allowed when the reader's client is not
	// the key's writer: the invalidation has to travel to the reader. Reads
	// by the writer's own client get none (read-your-writes).
	crossBound time.Duration
	// trustFrom ignores, as evidence of staleness, writes that started
	// before it (unix ns): writes acknowledged before a forced failover may
	// be lost by Redis's asynchronous replication. 0 trusts all.
	trustFrom int64
	// evictions allows a read to find nothing at any time: the server
	// may evict any key (maxmemory with allkeys-lru).
	evictions bool
}

// verdict is the result of checking a history.
type verdict struct {
	Reads, Writes, Deletes, Errors int
	// BreakerErrors are the Errors that were cache.ErrUnavailable.
	BreakerErrors int
	// Mismatches are wrong values: older than the last write or delete
	// that completed before the read started (after crossBound for another
	// client), a value of another key, or a value that was never written.
	Mismatches int
	// Hangs are calls that returned later than opTimeout+hangSlack.
	Hangs    int
	Examples []string
}

func (v *verdict) fail(format string, args ...any) {
	v.Mismatches++
	if len(v.Examples) < 5 {
		v.Examples = append(v.Examples, fmt.Sprintf(format, args...))
	}
}

// checkHistory checks every successful read against the writes of its key.
//
// A read that started at s and ended at e, returning sequence q, is wrong
// when
//   - q names no write of the key, or a write that started after e
//     (a value from nowhere, or from the future);
//   - a write or delete with sequence > q completed successfully before
//     s − bound (the value was already overwritten: stale);
//   - it found nothing although the last successful operation completed
//     before s − bound was a write, and no delete started before e.
//
// bound is 0 for a read by the writer's own client and crossBound
// otherwise. A failed write may or may not have happened: it never proves
// a read stale, and a read may return it.
func checkHistory(ops []op, writerOf func(key int32) int8, opts checkOptions) verdict {
	var v verdict
	byKey := map[int32][]op{}
	for _, o := range ops {
		if !o.OK {
			v.Errors++
		}
		if o.Breaker {
			v.BreakerErrors++
		}
		if time.Duration(o.End-o.Start) > opTimeout+hangSlack {
			v.Hangs++
		}
		switch o.Kind {
		case opWrite, opDelete:
			if o.Kind == opWrite {
				v.Writes++
			} else {
				v.Deletes++
			}
			byKey[o.Key] = append(byKey[o.Key], o)
		case opRead:
			v.Reads++
		}
	}
	for _, w := range byKey {
		sort.Slice(w, func(i, j int) bool { return w[i].Seq < w[j].Seq })
	}
	for _, r := range ops {
		if r.Kind != opRead || !r.OK {
			continue
		}
		writes := byKey[r.Key]
		if r.Seq == seqForeign {
			v.fail("key %d: read returned a value of another key", r.Key)
			continue
		}
		if r.Seq > 0 {
			i := sort.Search(len(writes), func(i int) bool { return writes[i].Seq >= r.Seq })
			if i == len(writes) || writes[i].Seq != r.Seq || writes[i].Kind != opWrite || writes[i].Start > r.End {
				v.fail("key %d: read returned seq %d, which no write started before the read ended", r.Key, r.Seq)
				continue
			}
		}
		cutoff := r.Start
		if writerOf(r.Key) != r.Client {
			cutoff -= int64(opts.crossBound)
		}
		// last is the newest successful operation completed before cutoff.
		var last *op
		for i := len(writes) - 1; i >= 0; i-- {
			w := &writes[i]
			if w.OK && w.End < cutoff && w.Start >= opts.trustFrom {
				last = w
				break
			}
		}
		if last == nil {
			continue
		}
		switch {
		case r.Seq > 0 && r.Seq < last.Seq:
			v.fail("key %d: read [%d, %d] by client %d returned seq %d, but seq %d (kind %d) completed at %d",
				r.Key, r.Start, r.End, r.Client, r.Seq, last.Seq, last.Kind, last.End)
		case r.Seq == 0 && last.Kind == opWrite && !opts.evictions && !deleteStartedBy(writes, last.Seq, r.End):
			v.fail("key %d: read [%d, %d] by client %d found nothing, but write seq %d completed at %d and no delete followed",
				r.Key, r.Start, r.End, r.Client, last.Seq, last.End)
		}
	}
	return v
}

// deleteStartedBy reports whether a delete with sequence > after started
// before end.
func deleteStartedBy(writes []op, after, end int64) bool {
	for _, w := range writes {
		if w.Seq > after && w.Kind == opDelete && w.Start <= end {
			return true
		}
	}
	return false
}
