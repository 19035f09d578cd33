package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/internal/clientconn"
	"github.com/typecache/typecache/internal/keyspace"
	"github.com/typecache/typecache/internal/observe"
	"github.com/typecache/typecache/internal/rediscmd"
	"github.com/typecache/typecache/internal/transport"
)

// forwardFor is how long Destroy of a token that Regenerate replaced still
// ends the successor: long enough for every request that loaded the old
// token before the renewal to finish (say, an End racing a Renew).
const forwardFor = 5 * time.Minute

// Session is one user's session: its token, owner, typed data and
// deadlines. Get, Create and Regenerate return a fresh Session; change Data
// and call Save to store it.
//
// A Session is a value loaded from Redis, not a live view: it is not safe for
// concurrent modification, and two requests that load the same session get
// two copies, of which only the first to Save wins (the other gets
// ErrConflict).
type Session[T any] struct {
	// Token is the secret that identifies the session, 66 characters of
	// base64url and one '.'. Send it only in the session cookie; never log
	// it (log ID instead). Redis holds only a SHA-256 of its secret part.
	Token string

	// UserID is the owner given to Create; empty for anonymous sessions.
	UserID string

	// Data is the application's data, stored by Save.
	Data T

	// CreatedAt is when Create made the session (Regenerate keeps it), by
	// the application's clock.
	CreatedAt time.Time

	// LastSeen is when the idle deadline was last extended, by Redis's
	// clock: by Create, by Save, or by a read more than TouchThreshold after
	// the previous extension. It is accurate to within TouchThreshold.
	LastSeen time.Time

	// ExpiresAt is when the session ends if it is not used again: the
	// earlier of LastSeen+IdleTimeout and AbsoluteExpiresAt.
	ExpiresAt time.Time

	// AbsoluteExpiresAt is when the session ends however active it is:
	// CreatedAt+AbsoluteTimeout. Regenerate does not move it.
	AbsoluteExpiresAt time.Time

	route   string // the token's route: which Redis hash holds the session
	id      string // SHA-256 of the token's secret, base64url: its name in Redis
	version int64  // record version this copy was loaded at, checked by Save
}

// ID returns the session's opaque public identifier, the one List reports
// and Revoke accepts. It is derived from a hash of the token and cannot be
// used as a token; it is safe to log and to show to the session's owner.
func (s *Session[T]) ID() string { return publicID(s.id) }

func (s *Session[T]) event() Event { return Event{UserID: s.UserID, ID: s.ID()} }

// Info describes one of a user's sessions for a "your active sessions"
// page. It carries no token.
type Info struct {
	// ID is the session's opaque identifier (see Session.ID).
	ID                string
	CreatedAt         time.Time
	LastSeen          time.Time
	ExpiresAt         time.Time
	AbsoluteExpiresAt time.Time
}

// Store keeps typed sessions in Redis. It is safe for concurrent use by
// multiple goroutines; every method that touches Redis takes a context and
// blocks until Redis answers or the context ends. Build one per session
// type and share it; Close it when done.
//
// A Store keeps the sessions this process read or wrote recently (up to
// Options.MaxLocalSessions), so that reading a session that has not changed
// costs no round trip; Redis tells the process when one changes, and every
// write of this process drops what it replaced before it returns (Save and
// Regenerate then keep what they stored).
type Store[T any] struct {
	o           Options[T] // validated
	redis       rueidis.Client
	conn        *transport.Conn // the client's: its breakers are shared with every package on it
	space       keyspace.Space
	plain       rediscmd.Sender // writes
	tracked     rediscmd.Sender // reads and writes that keep: DoTracked with a local tier
	local       *localTier      // nil when off
	shared      *routeKeyCache  // the route key kept in Redis; nil with Options.RouteKeys
	unsubscribe func()
	ctxKey      *contextKey // identifies this store's request state in a context
	closed      atomic.Bool

	// keepWrites is whether writes may keep what they stored in the local
	// tier: only with one, and when Redis notifies the client of its own
	// writes to the keys it tracks, which the tier counts on (see
	// localTier): not with NOLOOP or BCAST in ClientTrackingOptions.
	keepWrites bool

	idleArg, touchArg, forwardArg string

	// now replaces Redis TIME in the scripts, and the application's clock,
	// when non-nil. Only tests set it (export_test.go).
	now func() time.Time
	// afterReply, when non-nil, runs between the reply of a read or a
	// write that may keep what it stored and the local tier's decision.
	// Only tests set it, to overtake an exchange.
	afterReply func(ctx context.Context)
}

// New returns a Store that keeps sessions through c. It validates opts,
// returning an error that wraps ErrInvalidOptions and names the first bad
// field; the zero Options is valid.
func New[T any](c *typecache.Client, opts Options[T]) (*Store[T], error) {
	if c == nil {
		return nil, invalid("New needs a *typecache.Client, got nil")
	}
	o, err := opts.validated()
	if err != nil {
		return nil, err
	}
	space, err := keyspace.New(keyspace.Session, o.Prefix)
	if err != nil {
		return nil, invalid("Options.Prefix %v", err)
	}
	conn, err := clientconn.Live(c, ErrClosed)
	if err != nil {
		return nil, err
	}
	o.Observer = observe.Named(o.Observer, o.Prefix, Observer(NoopObserver{}))
	s := &Store[T]{
		o: o, redis: c.Redis(), conn: conn, space: space, ctxKey: new(contextKey),
		plain:      conn.DoUntracked,
		idleArg:    rediscmd.Millis(o.IdleTimeout),
		touchArg:   rediscmd.Millis(o.TouchThreshold),
		forwardArg: rediscmd.Millis(forwardFor),
	}
	s.tracked = s.plain
	unsubscribeLocal, unsubscribeKey := func() {}, func() {}
	if !o.DisableLocal && o.MaxLocalSessions > 0 && conn.Tracks(space.Prefix()) {
		s.local = newLocalTier(o.MaxLocalSessions)
		s.tracked = conn.DoTracked
		unsubscribeLocal = c.Subscribe(space.Prefix(), s.local)
		s.keepWrites = conn.NotifiesOwnWrites()
	}
	if len(o.RouteKeys) == 0 {
		s.shared = newRouteKeyCache(s.plain, s.local)
		if conn.Tracks(s.routeKeyName()) { // read tracked: Redis tells when it changes
			s.shared.send = conn.DoTracked
			unsubscribeKey = c.Subscribe(s.routeKeyName(), s.shared)
		}
	}
	s.unsubscribe = func() { unsubscribeLocal(); unsubscribeKey() }
	return s, nil
}

// Close ends the Store: it leaves the client's invalidations and drops the
// sessions it kept in memory, and every later call returns an error
// wrapping ErrClosed without contacting Redis (Middleware hands it to
// Options.ErrorHandler), as every call does once the typecache.Client is
// closed. Calls in flight finish. Close does not close the
// typecache.Client; calls after the first do nothing.
func (s *Store[T]) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.unsubscribe()
	s.local.close()
}

// clock is the application's clock (the test clock when set).
func (s *Store[T]) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// key is the Redis key of route's sessions.
func (s *Store[T]) key(route string) string { return s.space.Key(groupKind, route) }

// ownWrite drops what this process kept of key after it wrote key (or may
// have: a failed write may have been applied).
func (s *Store[T]) ownWrite(key string) { s.local.ownWrite(key) }

// replied runs the test hook afterReply.
func (s *Store[T]) replied(ctx context.Context) {
	if s.afterReply != nil {
		s.afterReply(ctx)
	}
}

// fresh returns the local tier's entry for session id's record rec, read
// or written by an exchange sent at sent (the process's clock) that Redis
// ran at redisNow (Unix ms): fresh until the next extension is due or the
// session idles out, whichever is first.
func (s *Store[T]) fresh(id string, rec record, sent time.Time, redisNow int64) *localRecord {
	due := min(rec.seen+s.o.TouchThreshold.Milliseconds(), rec.seen+s.o.IdleTimeout.Milliseconds(), rec.absolute)
	return &localRecord{id: id, rec: rec, until: sent.Add(time.Duration(due-redisNow) * time.Millisecond)}
}

// failed reports err to the observer unless it is a verdict about the
// session rather than a failure, and returns it.
func (s *Store[T]) failed(op string, err error) error {
	if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		s.o.Observer.OnError(op, err)
	}
	return err
}

// Create starts a session for userID holding data and returns it with its
// new token, in one round trip. An empty userID makes an anonymous
// session, which List and DestroyAll do not see.
func (s *Store[T]) Create(ctx context.Context, userID string, data T) (*Session[T], error) {
	sess, err := s.prepare(ctx, userID, data)
	if err == nil {
		err = s.insert(ctx, sess)
	}
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// prepare returns a new session of userID holding data, not stored yet:
// its token, and its creation time and absolute deadline by the
// application's clock (they are signed before they reach Redis). It fails
// only when the route key cannot be read.
func (s *Store[T]) prepare(ctx context.Context, userID string, data T) (*Session[T], error) {
	route, err := s.newRoute(ctx, userID)
	if err != nil {
		return nil, s.failed("create", err)
	}
	token, id := newID(route)
	created := s.clock().UnixMilli()
	absolute := created + s.o.AbsoluteTimeout.Milliseconds()
	sess := &Session[T]{Token: token, UserID: userID, Data: data, route: token[:routeLen], id: id}
	s.setTimes(sess, created, absolute, created)
	return sess, nil
}

// insert stores sess, which prepare made, in one round trip. It keeps
// nothing in the local tier: the session's next request may reach any
// process of the application, and many new sessions never see another
// (a visitor who leaves, a crawler), so a create sent plain, on a direct
// connection, costs less than one that pays for tracking up front; the
// process that reads the session next keeps it from then on.
func (s *Store[T]) insert(ctx context.Context, sess *Session[T]) error {
	encoded, err := s.o.Codec.Append(nil, sess.Data)
	if err != nil {
		return fmt.Errorf("session: encode data: %w", err)
	}
	rec := record{user: sess.UserID, data: encoded, version: 1, created: sess.CreatedAt.UnixMilli(), absolute: sess.AbsoluteExpiresAt.UnixMilli()}
	rec.mac = s.sign(sess.id, &rec)
	key := s.key(sess.route)
	// An anonymous session's route is new: see createScript.
	anonymous := "0"
	if sess.UserID == "" {
		anonymous = "1"
	}
	msg, err := s.eval(ctx, createScript, key, false, []string{
		rediscmd.ClockArg(s.now), sess.id, s.idleArg,
		strconv.FormatInt(rec.created, 10), strconv.FormatInt(rec.absolute, 10),
		rec.mac, rec.user, rueidis.BinaryString(encoded), anonymous})
	s.ownWrite(key)
	fields, err := s.reply(msg, err, "create", key, 1)
	var seen int64
	if err == nil {
		seen, err = replyInt("create", key, fields[0])
	}
	if err != nil {
		return s.failed("create", err)
	}
	sess.version = 1
	s.setTimes(sess, rec.created, rec.absolute, seen)
	s.o.Observer.OnCreated(sess.event())
	return nil
}

// Get returns the live session that token names. A session this process
// read before and that has not changed since is served from memory, with
// no round trip; otherwise Get costs one. It extends the idle deadline only
// when the last extension is older than TouchThreshold, and then writes
// only that timestamp and the key's TTL, never the data. Unknown, expired
// and malformed tokens all return ErrNotFound; malformed ones without
// contacting Redis. A record whose data the codec cannot decode (say,
// after a change of codec or key), or that fails its integrity check, also
// returns an error that wraps ErrNotFound, with the cause.
func (s *Store[T]) Get(ctx context.Context, token string) (*Session[T], error) {
	route, id, ok := parseToken(token)
	if !ok {
		s.o.Observer.OnRejected(RejectMalformed)
		return nil, ErrNotFound
	}
	key := s.key(route)
	rec, local, err := s.load(ctx, key, route, id)
	if err != nil {
		switch {
		case errors.Is(err, ErrTampered), errors.Is(err, errMalformed):
			s.o.Observer.OnRejected(RejectTampered)
		case errors.Is(err, ErrNotFound):
			s.o.Observer.OnRejected(RejectUnknown)
		}
		return nil, s.failed("get", err)
	}
	data, err := s.o.Codec.Decode(rec.data)
	if err != nil {
		s.o.Observer.OnRejected(RejectUndecodable)
		return nil, fmt.Errorf("%w: record %s: %w", ErrNotFound, key, err)
	}
	sess := &Session[T]{Token: token, UserID: rec.user, Data: data, route: route, id: id, version: rec.version}
	s.setTimes(sess, rec.created, rec.absolute, rec.seen)
	s.o.Observer.OnLoaded(sess.event(), local)
	return sess, nil
}

// load returns session id of key, the hash of route, from the local tier
// when it is fresh there (local is true), else from Redis, keeping the
// reply when nothing overtook it.
func (s *Store[T]) load(ctx context.Context, key, route, id string) (rec record, local bool, err error) {
	var sent time.Time
	if s.local != nil && s.refused() == nil { // after Close, readRecord says so
		sent = s.clock()
		if rec, ok := s.local.get(key, id, sent); ok {
			return rec, true, nil
		}
	}
	tk := s.local.begin(key)
	r, err := s.readRecord(ctx, key, route, id)
	s.replied(ctx)
	var kept *localRecord
	if err == nil && r.checkErr == nil && s.local != nil {
		kept = s.fresh(id, r.rec, sent, r.now)
	}
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		s.local.endWrite(key, tk, nil) // the read may have extended the session before it failed
	case r.touched:
		// An extension is a write: kept only when Redis notifies this
		// client of its own writes.
		if !s.keepWrites {
			kept = nil
		}
		s.local.endWrite(key, tk, kept)
	default:
		s.local.endRead(key, tk, kept)
	}
	if err != nil {
		return record{}, false, err
	}
	return r.rec, false, r.checkErr
}

// Save stores sess.Data and extends the idle deadline, in one round trip.
// It returns ErrConflict when the session was saved by someone else since
// sess was loaded (nothing is written then), and ErrNotFound when the
// session has ended. On success sess's version, LastSeen and ExpiresAt are
// updated, so sess can be saved again.
func (s *Store[T]) Save(ctx context.Context, sess *Session[T]) error {
	if sess == nil || sess.id == "" {
		return ErrNotFound
	}
	encoded, err := s.o.Codec.Append(nil, sess.Data)
	if err != nil {
		return fmt.Errorf("session: encode data: %w", err)
	}
	next := record{user: sess.UserID, data: encoded, version: sess.version + 1,
		created: sess.CreatedAt.UnixMilli(), absolute: sess.AbsoluteExpiresAt.UnixMilli()}
	key := s.key(sess.route)
	saved, err := s.write(ctx, saveScript, "save", key, sess.id, []string{
		rediscmd.ClockArg(s.now), sess.id, s.idleArg, strconv.FormatInt(sess.version, 10),
		s.sign(sess.id, &next), rueidis.BinaryString(encoded)},
		func(fields []string) (record, int64, error) {
			return s.storedRecord("save", key, sess.id, fields, encoded)
		})
	if errors.Is(err, ErrConflict) {
		s.o.Observer.OnConflict(sess.event())
	}
	if err != nil {
		return s.failed("save", err)
	}
	sess.version = saved.version
	s.setTimes(sess, next.created, next.absolute, saved.seen)
	s.o.Observer.OnSaved(sess.event())
	return nil
}

// Regenerate moves sess to a new token, for login and every change of
// privilege (the defence against session fixation), in one round trip:
// the old token stops working at once, sess.Data is stored under the new
// token, and CreatedAt and the absolute deadline are kept. Like Save it
// returns ErrConflict when sess is out of date. For a few minutes after,
// destroying the old token (say, a logout racing the renewal) also ends
// the new one.
func (s *Store[T]) Regenerate(ctx context.Context, sess *Session[T]) (*Session[T], error) {
	if sess == nil || sess.id == "" {
		return nil, ErrNotFound
	}
	encoded, err := s.o.Codec.Append(nil, sess.Data)
	if err != nil {
		return nil, fmt.Errorf("session: encode data: %w", err)
	}
	token, id := newID(sess.route)
	next := record{user: sess.UserID, data: encoded, version: 1,
		created: sess.CreatedAt.UnixMilli(), absolute: sess.AbsoluteExpiresAt.UnixMilli()}
	key := s.key(sess.route)
	rec, err := s.write(ctx, regenerateScript, "regenerate", key, id, []string{
		rediscmd.ClockArg(s.now), sess.id, s.idleArg, strconv.FormatInt(sess.version, 10),
		id, s.sign(id, &next), rueidis.BinaryString(encoded), s.forwardArg},
		func(fields []string) (record, int64, error) {
			return s.storedRecord("regenerate", key, id, fields, encoded)
		})
	if errors.Is(err, ErrConflict) {
		s.o.Observer.OnConflict(sess.event())
	}
	if err != nil {
		return nil, s.failed("regenerate", err)
	}
	renewed := &Session[T]{Token: token, UserID: rec.user, Data: sess.Data, route: sess.route, id: id, version: rec.version}
	s.setTimes(renewed, rec.created, rec.absolute, rec.seen)
	s.o.Observer.OnRegenerated(renewed.event(), sess.ID())
	return renewed, nil
}

// Destroy ends the session that token names (logout), and any session that
// Regenerate moved it to in the last few minutes. It returns ErrNotFound
// when there is no such session, which callers usually ignore.
func (s *Store[T]) Destroy(ctx context.Context, token string) error {
	route, id, ok := parseToken(token)
	if !ok {
		return ErrNotFound
	}
	key := s.key(route)
	msg, err := s.eval(ctx, destroyScript, key, false, []string{rediscmd.ClockArg(s.now), id, s.idleArg})
	s.ownWrite(key)
	fields, err := s.reply(msg, err, "destroy", key, 1)
	if err != nil {
		return s.failed("destroy", err)
	}
	s.o.Observer.OnDestroyed(Event{UserID: fields[0], ID: publicID(id)})
	return nil
}

// DestroyAll ends every session of userID ("log out everywhere") without
// SCAN: a user's sessions share one Redis key per route key (see
// Options.RouteKeys), so it costs one round trip per route key held,
// usually one. Each is atomic with every other change of the user's
// sessions on that key, and the current key's (where new sessions go) is
// ended last, so no session of userID created, saved or regenerated before
// DestroyAll returns survives it. Sessions other users own are untouched.
func (s *Store[T]) DestroyAll(ctx context.Context, userID string) error {
	if userID == "" {
		return ErrEmptyKey
	}
	keys, err := s.routing(ctx)
	if err != nil {
		return s.failed("destroy", err)
	}
	total := 0
	for _, route := range keys.routes(userID) {
		key := s.key(route)
		n, err := s.eval(ctx, destroyAllScript, key, false, []string{rediscmd.ClockArg(s.now), userID})
		s.ownWrite(key)
		if err != nil {
			return s.failed("destroy", fmt.Errorf("session: destroy all %s: %w", key, err))
		}
		count, _ := n.AsInt64()
		total += int(count)
	}
	s.o.Observer.OnDestroyedAll(userID, total)
	return nil
}

// Revoke ends the session of userID whose ID (as List reports it) is id:
// "sign out that device", in one round trip per route key held (see
// DestroyAll). It returns ErrNotFound when userID has no such session.
func (s *Store[T]) Revoke(ctx context.Context, userID, id string) error {
	if userID == "" {
		return ErrEmptyKey
	}
	if len(id) != publicIDLen {
		return ErrNotFound
	}
	keys, err := s.routing(ctx)
	if err != nil {
		return s.failed("revoke", err)
	}
	for _, route := range keys.routes(userID) {
		key := s.key(route)
		_, err := s.eval(ctx, revokeScript, key, false, []string{rediscmd.ClockArg(s.now), id, s.idleArg, userID})
		s.ownWrite(key)
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return s.failed("revoke", fmt.Errorf("session: revoke %s: %w", key, err))
		}
		s.o.Observer.OnDestroyed(Event{UserID: userID, ID: id})
		return nil
	}
	return ErrNotFound
}

// List returns userID's live sessions, oldest first, for a "your active
// sessions" page, in one round trip per route key held (see DestroyAll).
// It reads each session without extending it.
func (s *Store[T]) List(ctx context.Context, userID string) ([]Info, error) {
	if userID == "" {
		return nil, ErrEmptyKey
	}
	keys, err := s.routing(ctx)
	if err != nil {
		return nil, s.failed("list", err)
	}
	var infos []Info
	for _, route := range keys.routes(userID) {
		key := s.key(route)
		msg, err := s.eval(ctx, listScript, key, false, []string{rediscmd.ClockArg(s.now), userID, s.idleArg})
		fields, err := s.reply(msg, err, "list", key, -1)
		if err != nil {
			return nil, s.failed("list", err)
		}
		for i := 0; i+2 < len(fields); i += 3 {
			rec, err := s.checkedRecord(key, fields[i], fields[i+1], []byte(fields[i+2]))
			if err != nil || rec.user != userID {
				continue // not a session this store wrote for userID
			}
			info := Info{ID: publicID(fields[i])}
			info.CreatedAt, info.LastSeen, info.ExpiresAt, info.AbsoluteExpiresAt = s.times(rec.created, rec.absolute, rec.seen)
			infos = append(infos, info)
		}
	}
	slices.SortFunc(infos, func(a, b Info) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return infos, nil
}

// times turns a record's Unix-ms times into CreatedAt, LastSeen, ExpiresAt
// and AbsoluteExpiresAt.
func (s *Store[T]) times(created, absolute, seen int64) (c, l, e, a time.Time) {
	return time.UnixMilli(created), time.UnixMilli(seen),
		time.UnixMilli(min(seen+s.o.IdleTimeout.Milliseconds(), absolute)), time.UnixMilli(absolute)
}

func (s *Store[T]) setTimes(sess *Session[T], created, absolute, seen int64) {
	sess.CreatedAt, sess.LastSeen, sess.ExpiresAt, sess.AbsoluteExpiresAt = s.times(created, absolute, seen)
}
