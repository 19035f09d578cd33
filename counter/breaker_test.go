package counter_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
)

// TestBreakerSharedWithOtherPackages: the breakers belong to the client, so
// once another package on it (here a limiter) has found a node down, every
// call about a key of that node fails at once with ErrUnavailable, in one
// sentence, and works again once the client's background probe finds the
// node back. On a cluster, GetMany and a flush refuse only the dead node's
// keys: the others are read and flushed.
func TestBreakerSharedWithOtherPackages(t *testing.T) {
	redistest.RunPrivate(t, func(t *testing.T, srv *redistest.Server) {
		dead := srv.Masters()[0]
		for _, m := range srv.Masters() {
			if !srv.IsCluster() {
				break
			}
			// Without replicas, the live masters would refuse every slot
			// (CLUSTERDOWN) once they deem the dead one failed.
			if _, err := m.Do("CONFIG", "SET", "cluster-require-full-coverage", "no"); err != nil {
				t.Fatal(err)
			}
		}
		client := srv.Client(t, typecache.WithBreaker(5, 20*time.Millisecond))
		ctr := newCounter(t, client, time.Hour)
		win, err := counter.NewWindowed(client, redistest.Name(t), counter.WindowOptions{Window: time.Minute, Keep: 5})
		if err != nil {
			t.Fatal(err)
		}
		cached, plain := bufferedOf(t, ctr, false), bufferedOf(t, ctr, true)
		limiter, err := ratelimit.New(client, ratelimit.Options{Prefix: redistest.Name(t), Limit: 1, Period: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		// down is served by the dead node; keys adds a key of a live
		// node on a cluster, which batches must still serve.
		down, keys := keyOf(t, ctr, dead, true), []string{}
		if srv.IsCluster() {
			keys = append(keys, keyOf(t, ctr, dead, false))
		}
		keys = append(keys, down)
		flush := func(b *counter.Buffered) error {
			for _, key := range keys {
				if err := b.Add(key, 1); err != nil {
					return err
				}
			}
			return b.Flush(background)
		}
		calls := []struct {
			name string
			call func() error
			want string // the error's text with the breaker open
		}{
			{"Add", func() error { _, err := ctr.Add(background, down, 1); return err }, `counter: add to %q`},
			{"Get", func() error { _, err := ctr.Get(background, down); return err }, `counter: get %q`},
			{"GetMany", func() error { _, err := ctr.GetMany(background, keys); return err }, `counter: get %q`},
			{"TTL", func() error { _, err := ctr.TTL(background, down); return err }, `counter: ttl of %q`},
			{"Reset", func() error { return ctr.Reset(background, down) }, `counter: reset %q`},
			{"Windowed.Add", func() error { _, err := win.Add(background, down, 1); return err }, `counter: add to %q`},
			{"Windowed.Last", func() error { _, err := win.Last(background, down, 5); return err }, `counter: windows of %q`},
			{"Buffered.Get/read-cache", func() error { _, err := cached.Get(background, down); return err }, `counter: get %q`},
			{"Buffered.Get/no-read-cache", func() error { _, err := plain.Get(background, down); return err }, `counter: get %q`},
			{"Buffered.Flush", func() error { return flush(plain) }, fmt.Sprintf("counter: flush: 1 of %d keys kept for the next flush", len(keys))},
		}

		dead.Kill()
		redistest.AwaitBreakerOpen(t, client, counter.RedisKey(ctr, down), func() {
			for i := range 64 { // some of them on the dead node
				limiter.Allow(background, "k"+strconv.Itoa(i))
			}
		})
		for _, tc := range calls {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				want := tc.want
				if strings.Contains(want, "%q") {
					want = fmt.Sprintf(want, down)
				}
				if want += ": redis unavailable (circuit open)"; !errors.Is(err, counter.ErrUnavailable) || err.Error() != want {
					t.Fatalf("with the dead node's breaker open: %v; want %q wrapping ErrUnavailable", err, want)
				}
			})
		}

		if err := dead.Start(); err != nil {
			t.Fatal(err)
		}
		for _, tc := range calls {
			t.Run(tc.name+"/after-restart", func(t *testing.T) {
				redistest.Eventually(t, 10*time.Second, tc.call)
			})
		}
	})
}

// bufferedOf returns a Buffered view of ctr that flushes only when asked,
// closed when the test ends.
func bufferedOf(t testing.TB, ctr *counter.Counter, disableReadCache bool) *counter.Buffered {
	t.Helper()
	b, err := ctr.Buffered(counter.BufferOptions{FlushInterval: time.Hour, DisableReadCache: disableReadCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(background) })
	return b
}

// keyOf returns a key of ctr that node serves (on) or does not serve, with
// the node up.
func keyOf(t *testing.T, ctr *counter.Counter, node *redistest.Node, on bool) string {
	t.Helper()
	for i := 0; ; i++ {
		key := "key" + strconv.Itoa(i)
		_, err := node.Do("EXISTS", counter.RedisKey(ctr, key))
		if err != nil && !strings.Contains(err.Error(), "MOVED") {
			t.Fatal(err)
		}
		if (err == nil) == on {
			return key
		}
	}
}
