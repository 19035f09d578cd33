package counter_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// BenchmarkCounter measures the calls that make one round trip each (Add,
// Get, GetMany of 16 keys, Windowed.Add and Last), a Buffered Get answered
// by its read cache (none) and a Buffered Flush of 16 keys, on the shared
// standalone server: the allocations per call are what a change of the
// round-trip path must keep.
func BenchmarkCounter(b *testing.B) {
	client := redistest.Standalone(b).Client(b)
	ctr := newCounter(b, client, time.Hour)
	win, err := counter.NewWindowed(client, redistest.Name(b), counter.WindowOptions{Window: time.Minute, Keep: 10})
	if err != nil {
		b.Fatal(err)
	}
	buf := bufferedOf(b, ctr, false)
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	for _, bc := range []struct {
		name string
		call func() error
	}{
		{"Add", func() error { _, err := ctr.Add(background, "k", 1); return err }},
		{"Get", func() error { _, err := ctr.Get(background, "k"); return err }},
		{"GetMany-16", func() error { _, err := ctr.GetMany(background, keys); return err }},
		{"Windowed.Add", func() error { _, err := win.Add(background, "k", 1); return err }},
		{"Windowed.Last-10", func() error { _, err := win.Last(background, "k", 10); return err }},
		{"Buffered.Get-cached", func() error { _, err := buf.Get(background, "k"); return err }},
		{"Buffered.Flush-16", func() error {
			for _, key := range keys {
				if err := buf.Add(key, 1); err != nil {
					return err
				}
			}
			return buf.Flush(background)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
