package otel

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/ratelimit"
)

// Attribute keys of the rate limit instruments.
const (
	limiterKey = attribute.Key("typecache.ratelimit.limiter")
	outcomeKey = attribute.Key("typecache.ratelimit.outcome")
)

// RateLimitObserver returns a [ratelimit.Observer] for Options.Observer of
// a limiter, that records into m's typecache.ratelimit.* instruments, then
// passes every call on to next (nil means none). It is a
// [ratelimit.NamedObserver]: ratelimit.New gives it the limiter's Prefix,
// the value of the attribute typecache.ratelimit.limiter, and passes it on
// to next when next is a NamedObserver too. Keys (client addresses, user
// ids) never become attributes: they are unbounded and may be personal
// data.
//
// Each decision counts once, whatever its cost.
func (m *Metrics) RateLimitObserver(next ratelimit.Observer) ratelimit.Observer {
	if m == nil {
		return next
	}
	return m.rateLimitObserver("", next)
}

// rateLimitObserver returns the observer of the limiter whose Prefix is
// name ("" when unnamed), passing calls on to next.
func (m *Metrics) rateLimitObserver(name string, next ratelimit.Observer) *rateLimitObserver {
	if next == nil {
		next = ratelimit.NoopObserver{}
	}
	n := newInstance(limiterKey, name)
	outcome := func(v string) attrs { return n.with(outcomeKey.String(v)) }
	return &rateLimitObserver{
		m:             m,
		next:          next,
		name:          n.with(),
		allowed:       outcome("allowed"),
		denied:        outcome("denied"),
		deniedLocally: outcome("denied_locally"),
		failOpen:      outcome("fail_open"),
		failClosed:    outcome("fail_closed"),
	}
}

type rateLimitObserver struct {
	m    *Metrics
	next ratelimit.Observer

	name, allowed, denied, deniedLocally, failOpen, failClosed attrs
}

// WithName returns the observer of the limiter whose Prefix is name, with
// next's observer of that name (see ratelimit.NamedObserver).
func (o *rateLimitObserver) WithName(name string) ratelimit.Observer {
	return o.m.rateLimitObserver(name, observe.Named(o.next, name, ratelimit.Observer(ratelimit.NoopObserver{})))
}

func (o *rateLimitObserver) OnAllowed(key string, n int) {
	count(o.m.rateDecisions, 1, o.allowed)
	o.next.OnAllowed(key, n)
}

func (o *rateLimitObserver) OnDenied(key string, n int) {
	count(o.m.rateDecisions, 1, o.denied)
	o.next.OnDenied(key, n)
}

func (o *rateLimitObserver) OnDeniedLocally(key string, n int) {
	count(o.m.rateDecisions, 1, o.deniedLocally)
	o.next.OnDeniedLocally(key, n)
}

func (o *rateLimitObserver) OnFailOpen(key string, err error) {
	count(o.m.rateDecisions, 1, o.failOpen)
	o.next.OnFailOpen(key, err)
}

func (o *rateLimitObserver) OnFailClosed(key string, err error) {
	count(o.m.rateDecisions, 1, o.failClosed)
	o.next.OnFailClosed(key, err)
}

func (o *rateLimitObserver) OnError(key string, err error) {
	count(o.m.rateErrors, 1, o.name)
	o.next.OnError(key, err)
}
