package observe_test

import (
	"testing"
	"time"

	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/leaderboard"
	"github.com/typecache/typecache/lock"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// nameLog keeps the names New gave a NamedObserver, in order. New runs on
// the test's goroutine.
type nameLog struct{ names []string }

func (l *nameLog) add(name string) { l.names = append(l.names, name) }

// One NamedObserver per package, each writing to a nameLog.
type (
	cacheNamed struct {
		cache.NoopObserver
		log *nameLog
	}
	counterNamed struct {
		counter.NoopObserver
		log *nameLog
	}
	leaderboardNamed struct {
		leaderboard.NoopObserver
		log *nameLog
	}
	lockNamed struct {
		lock.NoopObserver
		log *nameLog
	}
	rateLimitNamed struct {
		ratelimit.NoopObserver
		log *nameLog
	}
	sessionNamed struct {
		session.NoopObserver
		log *nameLog
	}
)

func (o cacheNamed) WithName(n string) cache.Observer             { o.log.add(n); return o }
func (o counterNamed) WithName(n string) counter.Observer         { o.log.add(n); return o }
func (o leaderboardNamed) WithName(n string) leaderboard.Observer { o.log.add(n); return o }
func (o lockNamed) WithName(n string) lock.Observer               { o.log.add(n); return o }
func (o rateLimitNamed) WithName(n string) ratelimit.Observer     { o.log.add(n); return o }
func (o sessionNamed) WithName(n string) session.Observer         { o.log.add(n); return o }

// TestPackagesNameObservers: every package's New asks a NamedObserver,
// once, for the observer of its instance's name (a cache's without its
// Version) or prefix (DefaultPrefix when none is set).
func TestPackagesNameObservers(t *testing.T) {
	client := redistest.Standalone(t).Client(t)
	name := redistest.Name(t)
	tests := []struct {
		pkg, want string
		open      func(log *nameLog) (any, error)
	}{
		{"cache", name, func(l *nameLog) (any, error) {
			return cache.New[string](client, name, cache.Options[string]{TTL: time.Hour, Version: "2", Observer: cacheNamed{log: l}})
		}},
		{"counter", name, func(l *nameLog) (any, error) {
			return counter.New(client, name, counter.Options{TTL: time.Hour, Observer: counterNamed{log: l}})
		}},
		{"leaderboard", name, func(l *nameLog) (any, error) {
			return leaderboard.New(client, name, leaderboard.Options{TTL: time.Hour, Observer: leaderboardNamed{log: l}})
		}},
		{"lock", name, func(l *nameLog) (any, error) {
			return lock.New(client, lock.Options{Prefix: name, Observer: lockNamed{log: l}})
		}},
		{"lock, default prefix", lock.DefaultPrefix, func(l *nameLog) (any, error) {
			return lock.New(client, lock.Options{Observer: lockNamed{log: l}})
		}},
		{"ratelimit", name, func(l *nameLog) (any, error) {
			return ratelimit.New(client, ratelimit.Options{Limit: 1, Period: time.Second, Prefix: name, Observer: rateLimitNamed{log: l}})
		}},
		{"ratelimit, default prefix", ratelimit.DefaultPrefix, func(l *nameLog) (any, error) {
			return ratelimit.New(client, ratelimit.Options{Limit: 1, Period: time.Second, Observer: rateLimitNamed{log: l}})
		}},
		{"session", name, func(l *nameLog) (any, error) {
			return session.New(client, session.Options[string]{Prefix: name, Observer: sessionNamed{log: l}})
		}},
		{"session, default prefix", session.DefaultPrefix, func(l *nameLog) (any, error) {
			return session.New(client, session.Options[string]{Observer: sessionNamed{log: l}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			log := &nameLog{}
			instance, err := tt.open(log)
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := instance.(interface{ Close() }); ok {
				defer c.Close()
			}
			if len(log.names) != 1 || log.names[0] != tt.want {
				t.Errorf("New gave the observer the names %q, want [%q]", log.names, tt.want)
			}
		})
	}
}
