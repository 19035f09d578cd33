package examples_test

// The test in this file is the code of README.md's "testing your code"
// section, which the doc checker (internal/testkit/doccheck) finds here: how an
// application tests its own code that uses typecache, against a real server
// started by typecachetest.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/typecachetest"
)

// Profile is what the application caches.
type Profile struct {
	Name string
}

// profileDB stands in for the application's database, counting its reads.
type profileDB struct {
	mu       sync.Mutex
	profiles map[string]Profile
	reads    int
}

func (db *profileDB) load(_ context.Context, id string) (Profile, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.reads++
	p, ok := db.profiles[id]
	if !ok {
		return Profile{}, cache.ErrNotFound
	}
	return p, nil
}

func (db *profileDB) save(_ context.Context, id string, p Profile) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.profiles[id] = p
	return nil
}

// profiles is the application code under test: profiles read through a
// cache in front of the database, and written through it.
type profiles struct {
	cache *cache.Cache[Profile]
	db    *profileDB
}

func newProfiles(client *typecache.Client, db *profileDB) (*profiles, error) {
	c, err := cache.New[Profile](client, "profile", cache.Options[Profile]{TTL: time.Hour})
	if err != nil {
		return nil, err
	}
	return &profiles{cache: c, db: db}, nil
}

func (p *profiles) Get(ctx context.Context, id string) (Profile, error) {
	return p.cache.Fetch(ctx, id, cache.LoaderFunc[Profile](p.db.load))
}

func (p *profiles) Rename(ctx context.Context, id, name string) error {
	return p.cache.Put(ctx, id, Profile{Name: name}, cache.WriterFunc[Profile](p.db.save))
}

func (p *profiles) Close() { p.cache.Close() }

func TestProfiles(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []typecachetest.Option
	}{
		{"standalone", nil},
		{"cluster", []typecachetest.Option{typecachetest.Cluster()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A redis-server of this test's own, stopped when the test ends.
			srv := typecachetest.NewServer(t, tt.opts...)
			db := &profileDB{profiles: map[string]Profile{"42": {Name: "Ada"}}}
			// Two clients behave like two processes of the application.
			first, err := newProfiles(srv.Client(t), db)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			second, err := newProfiles(srv.Client(t), db)
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close()

			ctx := context.Background()
			for _, p := range []*profiles{first, second, first} {
				if got, err := p.Get(ctx, "42"); err != nil || got.Name != "Ada" {
					t.Fatalf("Get = %+v, %v; want Ada", got, err)
				}
			}
			if db.reads != 1 {
				t.Errorf("the database was read %d times, want 1: the cache serves the rest", db.reads)
			}
			if err := first.Rename(ctx, "42", "Ada King"); err != nil {
				t.Fatal(err)
			}
			if got, err := first.Get(ctx, "42"); err != nil || got.Name != "Ada King" {
				t.Fatalf("Get after Rename = %+v, %v; want Ada King", got, err)
			}
		})
	}
}
