package session

import (
	"time"

	"github.com/typecache/typecache/internal/tier"
)

// localTier keeps the sessions this process read or wrote recently,
// parsed and verified, so that reading an unchanged session costs no round
// trip. Its reads, and its writes that keep what they wrote, go through
// transport.Conn.DoTracked, so Redis tells the process (Invalidate) when
// a key it read changes. It is an internal/tier, which holds the coherence
// rule and its proof (a read keeps its reply only if nothing overtook it; a
// write drops its key, or keeps what it wrote and absorbs its own
// invalidation), with one entry per key of Redis: the sessions of a route
// that this process holds, each weighing one against
// Options.MaxLocalSessions.
//
// Its methods do nothing on a nil *localTier (the Store has none), so the
// Store calls them unconditionally.
//
// Values: the tier keeps the record's bytes and each read decodes its own
// copy, so requests never share (and race on) one decoded value.
type localTier struct {
	t *tier.Tier[[]localRecord]
}

// localRecord is one session of a key, fresh until until (the earlier of
// the idle deadline and the next extension due, in the process's clock).
type localRecord struct {
	id    string
	rec   record
	until time.Time
}

func newLocalTier(maxSessions int) *localTier {
	return &localTier{tier.New[[]localRecord](tier.Options{MaxEntries: maxSessions, MaxWeight: int64(maxSessions)})}
}

// get returns session id of key when the tier holds it and it is fresh at
// now.
func (l *localTier) get(key, id string, now time.Time) (record, bool) {
	e := l.t.Get(key)
	if e == nil {
		return record{}, false
	}
	for _, r := range e.Value {
		if r.id == id {
			return r.rec, now.Before(r.until)
		}
	}
	return record{}, false
}

// begin returns the ticket of an exchange about key; call it before the
// exchange is sent, and endRead or endWrite after its reply.
func (l *localTier) begin(key string) tier.Ticket {
	if l == nil {
		return tier.Ticket{}
	}
	return l.t.Begin(key)
}

// endRead ends an exchange that wrote nothing, whose ticket is tk: it keeps
// r (when not nil) beside the other sessions of key the tier holds, if the
// rule allows.
func (l *localTier) endRead(key string, tk tier.Ticket, r *localRecord) {
	if l == nil || r == nil {
		return
	}
	var held []localRecord
	if e := l.t.Get(key); e != nil {
		held = e.Value
	}
	records := make([]localRecord, 0, len(held)+1)
	for _, other := range held {
		if other.id != r.id {
			records = append(records, other)
		}
	}
	l.fill(key, tk, append(records, *r), false)
}

// endWrite ends a write of key by this process, or an exchange that may
// have written it (a failed one may have been applied), whose ticket is
// tk: it drops key, and then keeps r (when not nil), what the write stored,
// alone, if the rule allows.
func (l *localTier) endWrite(key string, tk tier.Ticket, r *localRecord) {
	switch {
	case l == nil:
	case r == nil:
		l.t.OwnWrite(key)
	default:
		l.fill(key, tk, []localRecord{*r}, true)
	}
}

func (l *localTier) fill(key string, tk tier.Ticket, records []localRecord, write bool) {
	e := l.t.NewEntry(key, tier.Meta{Weight: int64(len(records))})
	e.Value = records
	if write {
		l.t.FillOwnWrite(tk, e)
	} else {
		l.t.Fill(tk, e)
	}
}

// ownWrite drops key after a write of this process that keeps nothing.
func (l *localTier) ownWrite(key string) { l.endWrite(key, tier.Ticket{}, nil) }

// Invalidate reports a change of key by Redis.
func (l *localTier) Invalidate(key string) { l.t.Invalidate(key) }

// InvalidateAll drops everything: a connection was lost or the server was
// flushed, so invalidations may have been missed.
func (l *localTier) InvalidateAll() { l.t.InvalidateAll() }

// close drops everything and keeps nothing from now on: no invalidation
// will arrive any more.
func (l *localTier) close() {
	if l != nil {
		l.t.Close()
	}
}
