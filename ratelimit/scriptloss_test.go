package ratelimit_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
)

// TestFirstCallAfterScriptLoss: after a node forgets the limiters' scripts
// (SCRIPT FLUSH, a restart), the first decision of every algorithm is made
// in about one extra round trip.
func TestFirstCallAfterScriptLoss(t *testing.T) {
	redistest.RunScriptLoss(t, func(t *testing.T, _ *redistest.Server, client *typecache.Client) []redistest.ScriptCall {
		ctx := context.Background()
		var calls []redistest.ScriptCall
		for _, algo := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter, ratelimit.FixedWindow} {
			l, err := ratelimit.New(client, ratelimit.Options{Algorithm: algo, Limit: 10, Period: time.Minute, Prefix: redistest.Name(t)})
			if err != nil {
				t.Fatal(err)
			}
			calls = append(calls, redistest.ScriptCall{Name: fmt.Sprint(algo), Call: func(r int) error {
				res, err := l.Allow(ctx, "k"+strconv.Itoa(r))
				if err == nil && (!res.Allowed || res.Source != ratelimit.FromRedis) {
					err = fmt.Errorf("first request of a key: %+v, want allowed by Redis", res)
				}
				return err
			}})
		}
		return calls
	})
}
