package transport_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/transport"
)

// TestDirectWriteAfterIdleClose shows that a write through Conn.Direct
// succeeds as the first call after the server closed the idle connection
// it would have gone on: the connection is found closed before anything is
// sent, and the write goes on a new one. (rueidis never resends a write, so
// without that check the call would fail with EOF.)
func TestDirectWriteAfterIdleClose(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		client, name := namedClient(t, srv)
		ctx := context.Background()
		direct := clientconn.Of(client).Direct()
		key := redistest.Prefix(t) + "k"
		for i, value := range []string{"before", "after"} {
			if i > 0 {
				srv.KillClients(t, name)
			}
			if err := direct.Do(ctx, direct.B().Set().Key(key).Value(value).Build()).Error(); err != nil {
				t.Fatalf("SET %s (call %d): %v", value, i, err)
			}
		}
		raw := srv.Raw(t)
		got, err := raw.Do(ctx, raw.B().Get().Key(key).Build()).ToString()
		if err != nil || got != "after" {
			t.Fatalf("GET = %q, %v; want after", got, err)
		}
	})
}

// TestDirectConcurrentCalls sends many calls through Conn.Direct at once,
// which take connections of their own from its pool, while every connection
// is killed once: no command may run twice (SET ... GET shows the value
// before it), and a call may fail only with the kill.
func TestDirectConcurrentCalls(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		client, name := namedClient(t, srv)
		ctx := context.Background()
		direct := clientconn.Of(client).Direct()
		prefix := redistest.Prefix(t)
		var wg, started sync.WaitGroup
		var failed atomic.Int64
		for g := range 8 {
			started.Add(1)
			wg.Go(func() {
				// A failed SET may or may not have run: the value read back
				// is the last successful one's or a later failed one's.
				key := fmt.Sprintf("%s%d", prefix, g)
				possible := map[string]bool{}
				for i := range 200 {
					if i == 10 {
						started.Done()
					}
					value := strconv.Itoa(i)
					got, err := direct.Do(ctx, direct.B().Set().Key(key).Value(value).Get().Build()).ToString()
					if errors.Is(err, transport.ErrPeerClosed) {
						t.Errorf("SET %s %s: %v: every connection tried was found closed", key, value, err)
					}
					if err != nil && !rueidis.IsRedisNil(err) {
						failed.Add(1) // the connection was killed under the call
						possible[value] = true
						continue
					}
					if err == nil && !possible[got] {
						t.Errorf("SET %s %s GET = %q, want one of %v", key, value, got, possible)
					}
					possible = map[string]bool{value: true}
				}
			})
		}
		started.Wait()
		srv.KillClients(t, name)
		wg.Wait()
		t.Logf("%d calls failed under CLIENT KILL", failed.Load())
	})
}

// namedClient returns a Client on srv whose connections carry a name of
// their own (CLIENT SETNAME), for KillClients, and the name.
func namedClient(t *testing.T, srv *redistest.Server) (*typecache.Client, string) {
	t.Helper()
	opt := srv.Option()
	opt.ClientName = redistest.Name(t)
	client, err := typecache.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client, opt.ClientName
}

// TestReplyPollOption: typecache.WithReplyPoll(0) turns the direct
// client's reply poll off (no read polls); with a window, or by default, a
// lone caller's reads poll (where a processor is left for it).
func TestReplyPollOption(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, tc := range []struct {
			name   string
			opts   []typecache.Option
			window time.Duration
		}{
			{"off", []typecache.Option{typecache.WithReplyPoll(0)}, 0},
			{"on", []typecache.Option{typecache.WithReplyPoll(20 * time.Microsecond)}, 20 * time.Microsecond},
			{"default", nil, typecache.DefaultReplyPoll},
		} {
			t.Run(tc.name, func(t *testing.T) {
				conn := clientconn.Of(srv.Client(t, tc.opts...))
				direct := conn.Direct()
				key := redistest.Prefix(t) + "k"
				for i := range 50 {
					if err := direct.Do(context.Background(), direct.B().Set().Key(key).Value(strconv.Itoa(i)).Build()).Error(); err != nil {
						t.Fatal(err)
					}
				}
				polls := conn.Polls()
				switch {
				case tc.window == 0 && polls != 0:
					t.Fatalf("%d reads polled with the poll off", polls)
				case tc.window > 0 && runtime.GOMAXPROCS(0) > 1 && polls == 0:
					t.Fatal("no read polled with the poll on")
				}
			})
		}
	})
}

// TestReplyPollStepsAside: with many callers of DoUntracked at once, more
// than there are processors, reads do not poll (but for the moments when
// few calls are out): the processors have the other callers' work to do.
func TestReplyPollStepsAside(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		conn := clientconn.Of(srv.Client(t))
		key := redistest.Prefix(t) + "k"
		const callers, calls = 64, 50
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for i := range calls {
					if _, err := conn.DoUntracked(context.Background(), conn.Redis().B().Set().Key(key).Value(strconv.Itoa(i)).Build()); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		// Under 1 % polled here; about 15 % with neither the poll's rule
		// (replyPoll.begin) nor DoUntracked's routing (replyPoll.quiet),
		// each of which keeps the polls out on its own.
		if polls := conn.Polls(); polls > callers*calls/20 {
			t.Fatalf("%d of %d reads polled with %d callers at once", polls, callers*calls, callers)
		}
	})
}

// TestDoUntrackedRoute: a lone untracked call goes through the direct
// client; with many calls out, through the pipelined client, counted as
// waiting while it runs and no longer after. Which client answered is told
// by the connection's CLIENT ID.
func TestDoUntrackedRoute(t *testing.T) {
	ctx := context.Background()
	conn := clientconn.Of(redistest.Standalone(t).Client(t))
	checkRoute(t, conn, "", func() int64 {
		t.Helper()
		msg, err := conn.DoUntracked(ctx, conn.Redis().B().ClientId().Build())
		if err != nil {
			t.Fatal(err)
		}
		id, err := msg.AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		if n := transport.Waiting(conn); n != 0 && n != 64 {
			t.Fatalf("%d calls counted as waiting after a call, want 0, or the 64 held", n)
		}
		return id
	})
}

// TestDirectMultiAfterIdleClose: a transaction through Conn.Direct's
// DoMulti succeeds as the first call after the server closed the idle
// connection it would have gone on, and runs once: found closed before
// anything was sent, it goes whole on a new connection.
func TestDirectMultiAfterIdleClose(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		client, name := namedClient(t, srv)
		ctx := context.Background()
		direct := clientconn.Of(client).Direct()
		key := redistest.Prefix(t) + "n"
		for i := range 2 {
			if i > 0 {
				srv.KillClients(t, name)
			}
			rs := direct.DoMulti(ctx, direct.B().Multi().Build(), direct.B().Incr().Key(key).Build(), direct.B().Exec().Build())
			for j, r := range rs {
				if err := r.Error(); err != nil {
					t.Fatalf("call %d: reply %d: %v", i, j, err)
				}
			}
		}
		raw := srv.Raw(t)
		if n, err := raw.Do(ctx, raw.B().Get().Key(key).Build()).AsInt64(); err != nil || n != 2 {
			t.Fatalf("counter = %d, %v; want 2 (each transaction ran once)", n, err)
		}
	})
}

// TestDoUntrackedMulti: DoUntrackedMulti runs its commands in one
// transaction and returns their replies, an error reply among them as a
// message; it takes DoUntracked's route (the direct client for a lone
// call, the pipelined one with many calls out); a command refused while
// queued fails the transaction with its own error.
func TestDoUntrackedMulti(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		conn := clientconn.Of(srv.Client(t))
		b := conn.Redis().B()
		key := redistest.Prefix(t) + "{k}"
		run := func() int64 {
			t.Helper()
			replies, err := conn.DoUntrackedMulti(ctx,
				b.Set().Key(key).Value("v").Build(),
				b.Lpush().Key(key).Element("x").Build(), // WRONGTYPE, at EXEC
				rediscmd.Retried(b.Get().Key(key).Build()),
				b.ClientId().Build())
			if err != nil {
				t.Fatal(err)
			}
			if len(replies) != 4 {
				t.Fatalf("%d replies, want 4", len(replies))
			}
			if err := replies[1].Error(); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
				t.Fatalf("LPUSH on a string: %v, want WRONGTYPE", err)
			}
			if v, err := replies[2].ToString(); err != nil || v != "v" {
				t.Fatalf("GET = %q, %v", v, err)
			}
			id, err := replies[3].AsInt64()
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		checkRoute(t, conn, key, run)
		if _, err := conn.DoUntrackedMulti(ctx, rediscmd.Retried(b.Get().Key(key).Build()), b.Arbitrary("NO-SUCH-COMMAND").Build()); err == nil || !strings.Contains(err.Error(), "unknown command") {
			t.Fatalf("a transaction with an unknown command: %v, want the command's error", err)
		}
	})
}

// checkRoute fails t unless answered, a call that returns the CLIENT ID of
// the connection that ran it (on a cluster, on the node of slotKey), runs
// through the direct client while alone and through the pipelined one with
// 64 calls out.
func checkRoute(t *testing.T, conn *transport.Conn, slotKey string, answered func() int64) {
	t.Helper()
	direct, pipelined := connectionIDs(t, conn.Direct(), slotKey), connectionIDs(t, conn.Redis(), slotKey)
	if id := answered(); !direct[id] || pipelined[id] {
		t.Fatalf("a lone call ran on connection %d; direct ones: %v, pipelined: %v", id, direct, pipelined)
	}
	release := transport.HoldWaiting(conn, 64)
	defer release()
	if id := answered(); !pipelined[id] {
		t.Fatalf("with 64 calls out, a call ran on connection %d; pipelined ones: %v", id, pipelined)
	}
}

// connectionIDs returns the CLIENT IDs of client's connections that answer
// calls, on a cluster those to the node of slotKey.
func connectionIDs(t *testing.T, client rueidis.Client, slotKey string) map[int64]bool {
	t.Helper()
	seen := map[int64]bool{}
	for range 20 {
		id, err := client.Do(context.Background(), client.B().ClientId().Build().SetSlot(slotKey)).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		seen[id] = true
	}
	return seen
}

// TestDoUntrackedBatches: each batch runs as one transaction on its slot's
// node, all batches in one pipeline, with one reply per command (an error
// reply among them as a message).
func TestDoUntrackedBatches(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		ctx := context.Background()
		conn := clientconn.Of(srv.Client(t))
		b := conn.Redis().B()
		prefix := redistest.Prefix(t)
		var batches []transport.TrackedBatch
		for i := range 8 { // 8 slots: on a cluster, every node
			key := prefix + "{" + strconv.Itoa(i) + "}"
			batches = append(batches, transport.TrackedBatch{SlotKey: key, Cmds: rueidis.Commands{
				b.Set().Key(key).Value(strconv.Itoa(i)).Build(),
				b.Lpush().Key(key).Element("x").Build(), // WRONGTYPE, at EXEC
				rediscmd.Retried(b.Get().Key(key).Build()),
			}})
		}
		replies, errs := conn.DoUntrackedBatches(ctx, batches...)
		for i := range batches {
			if errs[i] != nil {
				t.Fatalf("batch %d: %v", i, errs[i])
			}
			if len(replies[i]) != 3 {
				t.Fatalf("batch %d: %d replies, want 3", i, len(replies[i]))
			}
			if err := replies[i][1].Error(); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
				t.Fatalf("batch %d: LPUSH on a string: %v, want WRONGTYPE", i, err)
			}
			if v, err := replies[i][2].ToString(); err != nil || v != strconv.Itoa(i) {
				t.Fatalf("batch %d: GET = %q, %v", i, v, err)
			}
		}
	})
}
