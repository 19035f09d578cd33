package main

import (
	"context"
	"fmt"
	"time"

	"github.com/typecache/typecache/cache"
)

// db stands in for the program's real source of truth.
var db slowDatabase

type slowDatabase struct{}

// LoadUser pretends to query a database: it takes 50 ms and says so.
func (slowDatabase) LoadUser(ctx context.Context, id string) (User, error) {
	fmt.Printf("loading user %s from the database (50 ms)\n", id)
	select {
	case <-time.After(50 * time.Millisecond):
		return User{ID: id, Name: "Ada Lovelace", Email: "ada@example.com"}, nil
	case <-ctx.Done():
		return User{}, ctx.Err()
	}
}

// servedBy says which tier answered, from the Stats before and after a call.
func servedBy(before, after cache.Stats) string {
	switch {
	case after.Loads > before.Loads:
		return "loaded"
	case after.LocalHits > before.LocalHits:
		return "local tier hit"
	default:
		return "Redis hit"
	}
}
