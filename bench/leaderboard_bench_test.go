package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
)

// boardOps is one contender's leaderboard: add sets a member's score, top
// reads the best n, best first.
type boardOps struct {
	add func(ctx context.Context, member string, score float64) error
	top func(ctx context.Context, n int) ([]string, error)
}

type boardContender struct {
	name string
	open func(tb testing.TB, srv *benchServer) boardOps
}

var boardContenders = []boardContender{
	{"typecache", func(tb testing.TB, srv *benchServer) boardOps {
		return typecacheBoard(tb, srv, leaderboard.Options{TTL: time.Hour})
	}},
	{"typecache-no-top-cache", func(tb testing.TB, srv *benchServer) boardOps {
		return typecacheBoard(tb, srv, leaderboard.Options{TTL: time.Hour, DisableTopCache: true})
	}},
	{"go-redis-zadd-zrevrange", func(tb testing.TB, srv *benchServer) boardOps {
		rdb := srv.goRedis(tb)
		key := redistest.Prefix(tb) + "board"
		// The usual hand-written board: ZADD and ZREVRANGE WITHSCORES, no
		// expiry, no bound, ties in reverse member order.
		return boardOps{
			add: func(ctx context.Context, member string, score float64) error {
				return rdb.ZAdd(ctx, key, goredis.Z{Score: score, Member: member}).Err()
			},
			top: func(ctx context.Context, n int) ([]string, error) {
				zs, err := rdb.ZRevRangeWithScores(ctx, key, 0, int64(n-1)).Result()
				members := make([]string, len(zs))
				for i, z := range zs {
					members[i] = z.Member.(string)
				}
				return members, err
			},
		}
	}},
}

func typecacheBoard(tb testing.TB, srv *benchServer, opts leaderboard.Options) boardOps {
	board, err := leaderboard.New(srv.typecacheClient(tb, true), redistest.Name(tb), opts)
	if err != nil {
		tb.Fatalf("leaderboard.New: %v", err)
	}
	tb.Cleanup(board.Close)
	return boardOps{
		add: board.Add,
		top: func(ctx context.Context, n int) ([]string, error) {
			entries, err := board.Top(ctx, n)
			members := make([]string, len(entries))
			for i, e := range entries {
				members[i] = e.Member
			}
			return members, err
		},
	}
}

// boardMembers is how many members the benchmarks' boards hold.
const boardMembers = 1000

// openBoard returns c's board filled with boardMembers members.
func openBoard(b *testing.B, c boardContender, srv *benchServer) boardOps {
	ops := c.open(b, srv)
	for i := range boardMembers {
		if err := ops.add(context.Background(), "player"+strconv.Itoa(i), float64(i)); err != nil {
			b.Fatalf("%s: add: %v", c.name, err)
		}
	}
	return ops
}

// BenchmarkLeaderboardAddTop sets a score and reads the top 10, the
// request of a game that shows the board after each result; every write
// invalidates a cached Top, so this is the cache's worst case.
func BenchmarkLeaderboardAddTop(b *testing.B) {
	for _, c := range boardContenders {
		b.Run(c.name, func(b *testing.B) {
			srv := server(b)
			ops := openBoard(b, c, srv)
			var next atomic.Int64
			benchCallers(b, srv, workload{contender: c.name, prepare: sameOp(func(ctx context.Context) error {
				i := next.Add(1)
				if err := ops.add(ctx, "player"+strconv.FormatInt(i%boardMembers, 10), float64(i)); err != nil {
					return fmt.Errorf("add: %w", err)
				}
				if _, err := ops.top(ctx, 10); err != nil {
					return fmt.Errorf("top: %w", err)
				}
				return nil
			})})
		})
	}
}

// BenchmarkLeaderboardTop reads the top 10 of a board nobody writes: the
// board page many viewers load.
func BenchmarkLeaderboardTop(b *testing.B) {
	for _, c := range boardContenders {
		b.Run(c.name, func(b *testing.B) {
			srv := server(b)
			ops := openBoard(b, c, srv)
			benchCallers(b, srv, workload{contender: c.name, prepare: sameOp(func(ctx context.Context) error {
				_, err := ops.top(ctx, 10)
				return err
			})})
		})
	}
}

// TestLeaderboardContenders checks that every contender ranks the highest
// score first.
func TestLeaderboardContenders(t *testing.T) {
	for _, c := range boardContenders {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			ops := c.open(t, server(t))
			for i, m := range []string{"c", "a", "d", "b"} {
				if err := ops.add(ctx, m, float64(i)); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // the second read may come from a cache
				top, err := ops.top(ctx, 3)
				if err != nil || len(top) != 3 || top[0] != "b" || top[1] != "d" || top[2] != "a" {
					t.Fatalf("top = %v, %v; want [b d a]", top, err)
				}
			}
		})
	}
}
