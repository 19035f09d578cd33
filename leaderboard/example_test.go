package leaderboard_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/leaderboard"
)

// connect returns a client of the Redis at localhost:6379; the examples that
// use it compile but are not run by go test.
func connect() *typecache.Client {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	return client
}

// A game's all-time board: the best 1,000 players, kept 30 days after the
// last score.
func ExampleNew() {
	client := connect()
	defer client.Close()
	board, err := leaderboard.New(client, "points", leaderboard.Options{
		MaxSize: 1000,                // the worst are trimmed on write
		TTL:     30 * 24 * time.Hour, // or Persistent: true, by name
	})
	if err != nil {
		// an invalid option, named:
		// "leaderboard: invalid options: Options.TTL must be at least 1ms, ..."
		log.Fatal(err)
	}
	defer board.Close()
	ctx := context.Background()
	if _, err := board.Incr(ctx, "ada", 25); err != nil {
		log.Fatal(err)
	}
	top, err := board.Top(ctx, 10) // served locally until the board changes
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range top {
		fmt.Printf("%d. %s %.0f\n", e.Rank, e.Member, e.Score) // Rank is 1-based
	}
	rank, err := board.Rank(ctx, "ada") // leaderboard.ErrNotFound when absent
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ada is number", rank)
}

// A daily time trial: lowest time first, each runner's best time, and the
// runners around one of them.
func ExampleBoard_AddIfBetter() {
	client := connect()
	defer client.Close()
	trial, err := leaderboard.New(client, "time-trial", leaderboard.Options{
		Order:  leaderboard.LowestFirst,
		Period: leaderboard.Daily,  // a new board every midnight (UTC by default)
		TTL:    7 * 24 * time.Hour, // each day's board is kept a week after the day
	})
	if err != nil {
		log.Fatal(err)
	}
	defer trial.Close()
	ctx := context.Background()
	improved, err := trial.AddIfBetter(ctx, "grace", 83.27) // seconds
	if err != nil {
		log.Fatal(err)
	}
	if improved {
		fmt.Println("personal best!")
	}
	around, err := trial.Around(ctx, "grace", 2) // two above, two below
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range around {
		fmt.Printf("%d. %s %.2fs\n", e.Rank, e.Member, e.Score)
	}
}

// Yesterday's winners of a daily board.
func ExampleBoard_At() {
	client := connect()
	defer client.Close()
	daily, err := leaderboard.New(client, "daily-points", leaderboard.Options{
		Period: leaderboard.Daily,
		TTL:    48 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer daily.Close()
	yesterday := daily.At(time.Now().AddDate(0, 0, -1))
	winners, err := yesterday.Top(context.Background(), 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(winners)
}

// Paging through a board, 50 entries at a time.
func ExampleBoard_Page() {
	client := connect()
	defer client.Close()
	board, err := leaderboard.New(client, "points", leaderboard.Options{MaxSize: 1000, TTL: 30 * 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	defer board.Close()
	page := 2 // the third page
	entries, err := board.Page(context.Background(), page*50, 50)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Rank, e.Member, e.Score) // ranks 101 to 150
	}
}
