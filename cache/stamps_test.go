package cache

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/testkit/redistest"
)

// TestScriptsAgreeOnStamps: the stamps writeScript stores read back in Go
// as the scripts mean them (the version near the Redis time in ticks, the
// generation exactly or, at a clamp, as TestGenerationStamp says), and
// readScript serves or hides the value for a reader's generation exactly
// as olderGeneration, the Go side's rule for plain reads, decides.
func TestScriptsAgreeOnStamps(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		raw := srv.Raw(t)
		send := rediscmd.Plain(raw)
		c, err := New(srv.Client(t), redistest.Name(t), Options[int]{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		for i, tc := range generationCases {
			t.Run(tc.name, func(t *testing.T) {
				keys := c.keysOf(strconv.Itoa(i)) // the value's and the guard's
				nowMs := time.Now().UnixMilli()
				gen := nowMs - tc.below
				value := string(append(appendEnvelope(nil, 0, 0, 0), "x"...))
				if _, err := writeScript.Exec(ctx, raw, send, keys, []string{"set", value, "60000", "*", "10000", strconv.FormatInt(gen, 10)}); err != nil {
					t.Fatal(err)
				}
				s, err := raw.Do(ctx, raw.B().Get().Key(keys[0]).Build()).ToString()
				if err != nil {
					t.Fatal(err)
				}
				version, env, err := parseStored(s)
				if err != nil || string(env.payload) != "x" || len(s) != len(value) {
					t.Fatalf("stored %x: %+v, %v", s, env, err)
				}
				// The server runs on this machine: its clock is this one.
				if skew := time.Duration(int64(version)*int64(versionTick) - time.Now().UnixNano()); skew.Abs() > 5*time.Second {
					t.Fatalf("version %d is %v away from the time in ticks", version, skew)
				}
				if _, got, _ := headerStamps(s); (got == gen) != tc.exact {
					t.Fatalf("generation %d stored, %d read back", gen, got)
				}
				for _, reader := range []int64{gen, max(gen, nowMs+1000) + 1} {
					older, err := olderGeneration(s, strconv.FormatInt(reader, 10))
					if err != nil {
						t.Fatal(err)
					}
					msg, err := readScript.Exec(ctx, raw, send, keys, []string{string(readOnly), "", "1000", strconv.FormatInt(reader, 10)})
					if err != nil {
						t.Fatal(err)
					}
					reply, _ := msg.ToArray()
					code, _ := reply[0].AsInt64()
					if hidden := code == 1; hidden != older {
						t.Fatalf("a reader of generation %d: the script hides the value: %v; olderGeneration: %v", reader, hidden, older)
					}
					if reader == gen && older != tc.ownHidden {
						t.Fatalf("a reader of the value's own generation is hidden from it: %v", older)
					}
				}
			})
		}
	})
}
