package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
)

var (
	// ErrNotFound reports that no live session has the given token: it is
	// unknown, expired, destroyed, or not a well-formed token at all. All
	// these cases return this same value, so callers cannot tell them apart
	// and neither can an attacker probing tokens.
	ErrNotFound = errors.New("session: not found")

	// ErrConflict reports that Save or Regenerate lost a race: the session
	// was saved by another request after this copy was loaded. Reload it
	// with Get and apply the change again.
	ErrConflict = errors.New("session: saved by another request since it was loaded")

	// ErrEmptyUserID reports a per-user operation (List, DestroyAll, Revoke)
	// called with an empty user ID. Sessions created with an empty user ID
	// are anonymous and belong to no user's index.
	ErrEmptyUserID = errors.New("session: empty user ID")

	// ErrNoMiddleware reports a request helper (Put, Start, Renew, End)
	// called with a context that did not come through this Store's
	// Middleware.
	ErrNoMiddleware = errors.New("session: context did not come through this Store's Middleware")
)

// Session is one user's session: its token, owner, typed data and
// deadlines. Get, Create and Regenerate return a fresh Session; change Data
// and call Save to store it.
//
// A Session is a value loaded from Redis, not a live view: it is not safe for
// concurrent modification, and two requests that load the same session get
// two copies, of which only the first to Save wins (the other gets
// ErrConflict).
type Session[T any] struct {
	// Token is the secret that identifies the session: 32 random bytes in
	// base64url without padding (43 characters). Send it only in the
	// session cookie; never log it. Redis holds only its SHA-256.
	Token string

	// UserID is the owner given to Create; empty for anonymous sessions.
	UserID string

	// Data is the application's data, stored by Save.
	Data T

	// CreatedAt is when Create made the session (Regenerate keeps it).
	CreatedAt time.Time

	// LastSeen is when the idle deadline was last extended: by Create, by
	// Save, or by a Get more than TouchThreshold after the previous
	// extension. It is accurate to within TouchThreshold.
	LastSeen time.Time

	// ExpiresAt is when the session ends if it is not used again: the
	// earlier of LastSeen+IdleTimeout and AbsoluteExpiresAt.
	ExpiresAt time.Time

	// AbsoluteExpiresAt is when the session ends however active it is:
	// CreatedAt+AbsoluteTimeout. Regenerate does not move it.
	AbsoluteExpiresAt time.Time

	id      string // SHA-256 of Token, base64url: the session's name in Redis
	version int64  // record version this copy was loaded at, checked by Save
}

// ID returns the session's opaque public identifier, the one List reports
// and Revoke accepts. It is derived from a hash of the token and cannot be
// used as a token; it is safe to show to the session's owner.
func (s *Session[T]) ID() string { return publicID(s.id) }

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
// type and share it.
type Store[T any] struct {
	redis  rueidis.Client
	cfg    config[T]
	ctxKey *contextKey // identifies this store's request state in a context

	// now replaces Redis TIME in the scripts when non-nil. Only tests set it
	// (export_test.go), to move time without sleeping.
	now func() time.Time
}

// New returns a Store that keeps sessions through c. It validates opts,
// naming the first bad field in the error; the zero Options is valid.
func New[T any](c *typecache.Client, opts Options[T]) (*Store[T], error) {
	if c == nil {
		return nil, errors.New("session: New: client is nil")
	}
	cfg, err := opts.validate()
	if err != nil {
		return nil, err
	}
	return &Store[T]{redis: c.Redis(), cfg: cfg, ctxKey: new(contextKey)}, nil
}

// Create starts a session for userID holding data and returns it with its
// new token. An empty userID makes an anonymous session, which List and
// DestroyAll do not see. Create costs two round trips for a user (the
// user's index first, then the record) and one for an anonymous session.
func (s *Store[T]) Create(ctx context.Context, userID string, data T) (*Session[T], error) {
	encoded, err := s.cfg.codec.Append(nil, data)
	if err != nil {
		return nil, fmt.Errorf("session: encode data: %w", err)
	}
	token := newToken()
	id, _ := tokenID(token)
	rec := record{user: userID}
	if userID != "" {
		rec.created, rec.absolute, err = s.addToIndex(ctx, userID, id, "", 0)
		if err != nil {
			return nil, err
		}
	}
	if err := s.writeRecord(ctx, id, &rec, encoded); err != nil {
		return nil, err
	}
	return s.newSession(token, id, rec, data), nil
}

// Get returns the live session that token names, in one round trip. It
// extends the idle deadline only when the last extension is older than
// TouchThreshold, and then writes only that timestamp and the key's TTL,
// never the record. Unknown, expired and malformed tokens all return
// ErrNotFound; malformed ones without contacting Redis. A record whose data
// the codec cannot decode (say, after a change of codec or key) also
// returns an error that wraps ErrNotFound, with the codec's error.
func (s *Store[T]) Get(ctx context.Context, token string) (*Session[T], error) {
	id, ok := tokenID(token)
	if !ok {
		return nil, ErrNotFound
	}
	rec, err := s.loadRecord(ctx, id, true)
	if err != nil {
		return nil, err
	}
	data, err := s.cfg.codec.Decode(rec.data)
	if err != nil {
		return nil, fmt.Errorf("%w: record %s: %w", ErrNotFound, s.recordKey(id), err)
	}
	return s.newSession(token, id, rec, data), nil
}

// Save stores sess.Data and extends the idle deadline, in one round trip.
// It returns ErrConflict when the session was saved by someone else since
// sess was loaded (nothing is written then), and ErrNotFound when the
// session has ended. On success sess's version, LastSeen and ExpiresAt are
// updated, so sess can be saved again.
func (s *Store[T]) Save(ctx context.Context, sess *Session[T]) error {
	encoded, err := s.cfg.codec.Append(nil, sess.Data)
	if err != nil {
		return fmt.Errorf("session: encode data: %w", err)
	}
	if sess.id == "" {
		return ErrNotFound
	}
	version, seen, err := s.saveRecord(ctx, sess.id, sess.version, encoded)
	if err != nil {
		return err
	}
	sess.version = version
	sess.LastSeen = time.UnixMilli(seen)
	sess.ExpiresAt = s.expiresAt(seen, sess.AbsoluteExpiresAt.UnixMilli())
	return nil
}

// Regenerate moves sess to a new token, for login and every change of
// privilege (the defence against session fixation): the old token stops
// working at once, sess.Data is stored under the new token, and CreatedAt
// and the absolute deadline are kept. Like Save it returns ErrConflict when
// sess is out of date. It costs three round trips: the old record is
// deleted first, so a failure later on can log the user out but never
// leaves the old token valid.
func (s *Store[T]) Regenerate(ctx context.Context, sess *Session[T]) (*Session[T], error) {
	encoded, err := s.cfg.codec.Append(nil, sess.Data)
	if err != nil {
		return nil, fmt.Errorf("session: encode data: %w", err)
	}
	if sess.id == "" {
		return nil, ErrNotFound
	}
	rec, err := s.claimRecord(ctx, sess.id, sess.version)
	if err != nil {
		return nil, err
	}
	token := newToken()
	id, _ := tokenID(token)
	if rec.user != "" {
		if _, _, err := s.addToIndex(ctx, rec.user, id, sess.id, rec.absolute); err != nil {
			return nil, err
		}
	}
	if err := s.writeRecord(ctx, id, &rec, encoded); err != nil {
		return nil, err
	}
	return s.newSession(token, id, rec, sess.Data), nil
}

// Destroy ends the session that token names (logout). It returns
// ErrNotFound when there is no such session, which callers usually ignore.
func (s *Store[T]) Destroy(ctx context.Context, token string) error {
	id, ok := tokenID(token)
	if !ok {
		return ErrNotFound
	}
	return s.destroy(ctx, id, "")
}

// DestroyAll ends every session of userID ("log out everywhere"), found
// through the user's index, never by SCAN. Sessions other users own are
// untouched. A session that Create is still making while DestroyAll runs
// may survive it.
func (s *Store[T]) DestroyAll(ctx context.Context, userID string) error {
	if userID == "" {
		return ErrEmptyUserID
	}
	ids, err := s.indexMembers(ctx, userID)
	if err != nil || len(ids) == 0 {
		return err
	}
	return s.deleteSessions(ctx, userID, ids)
}

// Revoke ends the session of userID whose ID (as List reports it) is id:
// "sign out that device". It returns ErrNotFound when userID has no such
// session.
func (s *Store[T]) Revoke(ctx context.Context, userID, id string) error {
	if userID == "" {
		return ErrEmptyUserID
	}
	ids, err := s.indexMembers(ctx, userID)
	if err != nil {
		return err
	}
	for _, full := range ids {
		if publicID(full) == id {
			return s.destroy(ctx, full, userID)
		}
	}
	return ErrNotFound
}

// List returns userID's live sessions, oldest first, for a "your active
// sessions" page. It reads each session without extending it, and drops
// index entries whose sessions have ended.
func (s *Store[T]) List(ctx context.Context, userID string) ([]Info, error) {
	if userID == "" {
		return nil, ErrEmptyUserID
	}
	ids, err := s.indexMembers(ctx, userID)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return s.listSessions(ctx, userID, ids)
}

func (s *Store[T]) newSession(token, id string, rec record, data T) *Session[T] {
	return &Session[T]{
		Token: token, UserID: rec.user, Data: data,
		CreatedAt:         time.UnixMilli(rec.created),
		LastSeen:          time.UnixMilli(rec.seen),
		ExpiresAt:         s.expiresAt(rec.seen, rec.absolute),
		AbsoluteExpiresAt: time.UnixMilli(rec.absolute),
		id:                id, version: rec.version,
	}
}

func (s *Store[T]) expiresAt(seenMs, absoluteMs int64) time.Time {
	return time.UnixMilli(min(seenMs+s.cfg.idle.Milliseconds(), absoluteMs))
}
