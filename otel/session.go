package otel

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/session"
)

// Attribute keys of the session instruments.
const (
	storeNameKey    = attribute.Key("typecache.session.store")
	eventKey        = attribute.Key("typecache.session.event")
	sessionTierKey  = attribute.Key("typecache.session.tier")
	rejectReasonKey = attribute.Key("typecache.session.reject.reason")
	operationKey    = attribute.Key("typecache.session.operation")
)

// sessionOps are the operations session.Observer.OnError names; any other
// is recorded as "other", so that the attribute stays bounded.
var sessionOps = []string{"get", "create", "save", "regenerate", "destroy", "revoke", "list"}

// rejectReasons are the reasons session.Observer.OnRejected is given.
var rejectReasons = []session.RejectReason{session.RejectMalformed, session.RejectUnknown, session.RejectTampered, session.RejectUndecodable}

// SessionObserver returns a [session.Observer] for Options.Observer of a
// session store, that records into m's typecache.session.* instruments,
// then passes every call on to next (nil means none, or
// session.LogObserver for an audit log). It is a [session.NamedObserver]:
// session.New gives it the store's Prefix, the value of the attribute
// typecache.session.store, and passes it on to next when next is a
// NamedObserver too. User ids and session ids never become attributes.
func (m *Metrics) SessionObserver(next session.Observer) session.Observer {
	if m == nil {
		return next
	}
	return m.sessionObserver("", next)
}

// sessionObserver returns the observer of the store whose Prefix is name
// ("" when unnamed), passing calls on to next.
func (m *Metrics) sessionObserver(name string, next session.Observer) *sessionObserver {
	if next == nil {
		next = session.NoopObserver{}
	}
	n := newInstance(storeNameKey, name)
	event := func(v string, more ...attribute.KeyValue) attrs {
		return n.with(append(more, eventKey.String(v))...)
	}
	o := &sessionObserver{
		m:           m,
		next:        next,
		created:     event("created"),
		loadedLocal: event("loaded", sessionTierKey.String("local")),
		loaded:      event("loaded", sessionTierKey.String("remote")),
		saved:       event("saved"),
		conflict:    event("conflict"),
		regenerated: event("regenerated"),
		destroyed:   event("destroyed"),
		rejected:    make(map[session.RejectReason]attrs, len(rejectReasons)+1),
		errors:      make(map[string]attrs, len(sessionOps)+1),
	}
	for _, r := range append(rejectReasons, 0) {
		o.rejected[r] = event("rejected", rejectReasonKey.String(r.String()))
	}
	for _, op := range append(sessionOps, "other") {
		o.errors[op] = n.with(operationKey.String(op))
	}
	return o
}

type sessionObserver struct {
	m    *Metrics
	next session.Observer

	created, loadedLocal, loaded, saved, conflict, regenerated, destroyed attrs
	rejected                                                              map[session.RejectReason]attrs // 0: any other reason
	errors                                                                map[string]attrs               // by operation, "other" for any other
}

// WithName returns the observer of the store whose Prefix is name, with
// next's observer of that name (see session.NamedObserver).
func (o *sessionObserver) WithName(name string) session.Observer {
	return o.m.sessionObserver(name, observe.Named(o.next, name, session.Observer(session.NoopObserver{})))
}

func (o *sessionObserver) OnCreated(e session.Event) {
	count(o.m.sessionEvents, 1, o.created)
	o.next.OnCreated(e)
}

func (o *sessionObserver) OnLoaded(e session.Event, local bool) {
	a := o.loaded
	if local {
		a = o.loadedLocal
	}
	count(o.m.sessionEvents, 1, a)
	o.next.OnLoaded(e, local)
}

func (o *sessionObserver) OnSaved(e session.Event) {
	count(o.m.sessionEvents, 1, o.saved)
	o.next.OnSaved(e)
}

func (o *sessionObserver) OnConflict(e session.Event) {
	count(o.m.sessionEvents, 1, o.conflict)
	o.next.OnConflict(e)
}

func (o *sessionObserver) OnRegenerated(e session.Event, oldID string) {
	count(o.m.sessionEvents, 1, o.regenerated)
	o.next.OnRegenerated(e, oldID)
}

func (o *sessionObserver) OnDestroyed(e session.Event) {
	count(o.m.sessionEvents, 1, o.destroyed)
	o.next.OnDestroyed(e)
}

// OnDestroyedAll counts each session DestroyAll ended as destroyed.
func (o *sessionObserver) OnDestroyedAll(userID string, n int) {
	count(o.m.sessionEvents, int64(n), o.destroyed)
	o.next.OnDestroyedAll(userID, n)
}

func (o *sessionObserver) OnRejected(reason session.RejectReason) {
	a, ok := o.rejected[reason]
	if !ok {
		a = o.rejected[0]
	}
	count(o.m.sessionEvents, 1, a)
	o.next.OnRejected(reason)
}

func (o *sessionObserver) OnError(op string, err error) {
	a, ok := o.errors[op]
	if !ok {
		a = o.errors["other"]
	}
	count(o.m.sessionErrors, 1, a)
	o.next.OnError(op, err)
}
