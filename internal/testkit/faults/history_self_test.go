package faults_test

import (
	"testing"
	"time"
)

// The checker must catch each kind of wrong value, and accept the
// legitimate races; otherwise the scenarios could not fail.
func TestCheckHistoryCatchesWrongValues(t *testing.T) {
	ms := int64(time.Millisecond)
	w := func(seq, start, end int64) op {
		return op{Key: 1, Client: 0, Kind: opWrite, OK: true, Seq: seq, Start: start * ms, End: end * ms}
	}
	del := func(seq, start, end int64) op {
		return op{Key: 1, Client: 0, Kind: opDelete, OK: true, Seq: seq, Start: start * ms, End: end * ms}
	}
	r := func(client int8, seq, start, end int64) op {
		return op{Key: 1, Client: client, Kind: opRead, OK: true, Seq: seq, Start: start * ms, End: end * ms}
	}
	writerOf := func(int32) int8 { return 0 }
	tests := []struct {
		name string
		ops  []op
		bad  int
	}{
		{"current value", []op{w(1, 0, 1), w(2, 2, 3), r(0, 2, 4, 5)}, 0},
		{"value overwritten before the read", []op{w(1, 0, 1), w(2, 2, 3), r(0, 1, 4, 5)}, 1},
		{"overlapping write may go either way", []op{w(1, 0, 1), w(2, 2, 6), r(0, 1, 4, 5), r(0, 2, 4, 5)}, 0},
		{"value from the future", []op{w(1, 0, 1), r(0, 2, 2, 3), w(2, 4, 5)}, 1},
		{"value never written", []op{w(1, 0, 1), r(0, 7, 2, 3)}, 1},
		{"value of another key", []op{w(1, 0, 1), r(0, seqForeign, 2, 3)}, 1},
		{"nothing after a completed write", []op{w(1, 0, 1), r(0, 0, 2, 3)}, 1},
		{"nothing while a delete runs", []op{w(1, 0, 1), del(2, 2, 9), r(0, 0, 3, 4)}, 0},
		{"value after a completed delete", []op{w(1, 0, 1), del(2, 2, 3), r(0, 1, 4, 5)}, 1},
		{"failed write proves nothing", []op{w(1, 0, 1), {Key: 1, Kind: opWrite, Seq: 2, Start: 2 * ms, End: 3 * ms}, r(0, 1, 4, 5)}, 0},
		{"other client within the bound", []op{w(1, 0, 1), w(2, 2, 3), r(1, 1, 50, 51)}, 0},
		{"other client past the bound", []op{w(1, 0, 1), w(2, 2, 3), r(1, 1, 150, 151)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := checkHistory(tt.ops, writerOf, checkOptions{crossBound: 100 * time.Millisecond})
			if v.Mismatches != tt.bad {
				t.Fatalf("mismatches = %d, want %d (%v)", v.Mismatches, tt.bad, v.Examples)
			}
		})
	}
}
