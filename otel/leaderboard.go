package otel

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/leaderboard"
)

// Attribute keys of the leaderboard instruments.
const (
	boardNameKey = attribute.Key("typecache.leaderboard.name")
	boardTierKey = attribute.Key("typecache.leaderboard.tier")
)

// LeaderboardObserver returns a [leaderboard.Observer] for Options.Observer
// of a Board, that records into m's typecache.leaderboard.* instruments,
// then passes every call on to next (nil means none). It is a
// [leaderboard.NamedObserver]: leaderboard.New gives it the board's name,
// the value of the attribute typecache.leaderboard.name, and passes it on
// to next when next is a NamedObserver too. Members never become
// attributes.
func (m *Metrics) LeaderboardObserver(next leaderboard.Observer) leaderboard.Observer {
	if m == nil {
		return next
	}
	return m.leaderboardObserver("", next)
}

// leaderboardObserver returns the observer of the board called name (""
// when unnamed), passing calls on to next.
func (m *Metrics) leaderboardObserver(name string, next leaderboard.Observer) *leaderboardObserver {
	if next == nil {
		next = leaderboard.NoopObserver{}
	}
	n := newInstance(boardNameKey, name)
	return &leaderboardObserver{
		m:      m,
		next:   next,
		name:   n.with(),
		local:  n.with(boardTierKey.String("local")),
		remote: n.with(boardTierKey.String("remote")),
	}
}

type leaderboardObserver struct {
	m    *Metrics
	next leaderboard.Observer

	name, local, remote attrs
}

// WithName returns the observer of the board called name, with next's
// observer of that name (see leaderboard.NamedObserver).
func (o *leaderboardObserver) WithName(name string) leaderboard.Observer {
	return o.m.leaderboardObserver(name, observe.Named(o.next, name, leaderboard.Observer(leaderboard.NoopObserver{})))
}

func (o *leaderboardObserver) OnTop(cached bool) {
	a := o.remote
	if cached {
		a = o.local
	}
	count(o.m.boardTopReads, 1, a)
	o.next.OnTop(cached)
}

func (o *leaderboardObserver) OnTrim(removed int) {
	count(o.m.boardTrimmed, int64(removed), o.name)
	o.next.OnTrim(removed)
}
