package otel

import (
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/counter"
	"github.com/typecache/typecache/internal/observe"
)

// Attribute keys of the counter instruments.
const (
	counterNameKey = attribute.Key("typecache.counter.name")
	counterTierKey = attribute.Key("typecache.counter.tier")
	flushResultKey = attribute.Key("typecache.counter.flush.result")
)

// CounterObserver returns a [counter.Observer] for Options.Observer of a
// Counter, that records what its Buffered views do into m's
// typecache.counter.* instruments, then passes every call on to next (nil
// means none). It is a [counter.NamedObserver]: counter.New gives it the
// Counter's name, the value of the attribute typecache.counter.name, and
// passes it on to next when next is a NamedObserver too. Keys never become
// attributes.
func (m *Metrics) CounterObserver(next counter.Observer) counter.Observer {
	if m == nil {
		return next
	}
	return m.counterObserver("", next)
}

// counterObserver returns the observer of the Counter called name (""
// when unnamed), passing calls on to next.
func (m *Metrics) counterObserver(name string, next counter.Observer) *counterObserver {
	if next == nil {
		next = counter.NoopObserver{}
	}
	n := newInstance(counterNameKey, name)
	return &counterObserver{
		m:           m,
		next:        next,
		flushOK:     n.with(flushResultKey.String("ok")),
		flushFailed: n.with(flushResultKey.String("error")),
		local:       n.with(counterTierKey.String("local")),
		remote:      n.with(counterTierKey.String("remote")),
	}
}

type counterObserver struct {
	m    *Metrics
	next counter.Observer

	flushOK, flushFailed, local, remote attrs
}

// WithName returns the observer of the Counter called name, with next's
// observer of that name (see counter.NamedObserver).
func (o *counterObserver) WithName(name string) counter.Observer {
	return o.m.counterObserver(name, observe.Named(o.next, name, counter.Observer(counter.NoopObserver{})))
}

func (o *counterObserver) OnFlush(keys int, d time.Duration, err error) {
	a := o.flushOK
	if err != nil {
		a = o.flushFailed
	}
	count(o.m.counterFlushes, 1, a)
	count(o.m.counterFlushKeys, int64(keys), a)
	record(o.m.counterFlushDuration, d, a)
	o.next.OnFlush(keys, d, err)
}

func (o *counterObserver) OnRead(cached bool) {
	a := o.remote
	if cached {
		a = o.local
	}
	count(o.m.counterReads, 1, a)
	o.next.OnRead(cached)
}
