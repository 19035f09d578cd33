package counter_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestFirstCallAfterScriptLoss: after a node forgets the counters' scripts
// (SCRIPT FLUSH, a restart), the first Add of a Counter, of a Windowed
// counter and of a Buffered flush succeeds in about one extra round trip.
func TestFirstCallAfterScriptLoss(t *testing.T) {
	redistest.RunScriptLoss(t, func(t *testing.T, _ *redistest.Server, client *typecache.Client) []redistest.ScriptCall {
		ctx := context.Background()
		ctr := newCounter(t, client, time.Minute)
		win, err := counter.NewWindowed(client, redistest.Name(t), counter.WindowOptions{Window: time.Minute, Keep: 3})
		if err != nil {
			t.Fatal(err)
		}
		buf := bufferedOf(t, ctr, true)
		return []redistest.ScriptCall{
			{Name: "Counter.Add", Call: func(r int) error { _, err := ctr.Add(ctx, "k"+strconv.Itoa(r), 1); return err }},
			{Name: "Windowed.Add", Call: func(r int) error { _, err := win.Add(ctx, "k"+strconv.Itoa(r), 1); return err }},
			{Name: "Buffered.Flush", Call: func(r int) error {
				for i := range 8 { // on every node
					if err := buf.Add("b"+strconv.Itoa(r)+"-"+strconv.Itoa(i), 1); err != nil {
						return err
					}
				}
				return buf.Flush(ctx)
			}},
		}
	})
}
