package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/typecache/typecache/cache"
)

// profileDB stands in for the application's database: every query takes
// 20 ms, and it counts them so /debug/stats can show what the cache saved.
type profileDB struct {
	loads atomic.Int64
}

// Load returns the profile of userID, or cache.ErrNotFound for the user
// "nobody" (the cache then remembers the absence for a while).
func (db *profileDB) Load(ctx context.Context, userID string) (Profile, error) {
	db.loads.Add(1)
	select {
	case <-time.After(20 * time.Millisecond):
	case <-ctx.Done():
		return Profile{}, ctx.Err()
	}
	if userID == "nobody" {
		return Profile{}, cache.ErrNotFound
	}
	return Profile{UserID: userID, Name: userID, Plan: "free", Loaded: time.Now().UTC()}, nil
}
