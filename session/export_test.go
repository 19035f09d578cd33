package session

import (
	"context"
	"time"
)

// SetClock makes s's scripts use now() instead of Redis TIME, and s use it
// instead of the application's clock, so tests can move time without
// sleeping.
func SetClock[T any](s *Store[T], now func() time.Time) { s.now = now }

// Version returns the record version sess was loaded at.
func Version[T any](sess *Session[T]) int64 { return sess.version }

// WellFormed reports whether token has the shape of a token.
func WellFormed(token string) bool {
	_, _, ok := parseToken(token)
	return ok
}

// UserKey returns the Redis key that holds userID's new sessions.
func UserKey[T any](s *Store[T], userID string) string {
	keys, err := s.routing(context.Background())
	if err != nil {
		panic(err)
	}
	return s.key(keys.route(0, userID))
}

// SessionKey returns the Redis key that holds the session token names, and
// the session's id (the name of its fields there).
func SessionKey[T any](s *Store[T], token string) (key, id string) {
	route, id, _ := parseToken(token)
	return s.key(route), id
}

// Sign returns the integrity field s would write for a session.
func Sign[T any](s *Store[T], id, user string, data []byte, version, created, absolute int64) string {
	return s.sign(id, &record{user: user, data: data, version: version, created: created, absolute: absolute})
}

// Local reports whether s has a local tier.
func Local[T any](s *Store[T]) bool { return s.local != nil }

// HoldReply makes s call hold with the context of every read it sends to
// Redis, and of every write that may keep what it stored, after the reply
// arrived and before the local tier decides: tests overtake an exchange.
func HoldReply[T any](s *Store[T], hold func(ctx context.Context)) { s.afterReply = hold }

// DropLocal makes s forget what its local tier holds of the session token
// names (its whole key), as a write of s would.
func DropLocal[T any](s *Store[T], token string) {
	route, _, _ := parseToken(token)
	s.ownWrite(s.key(route))
}

// PrefixOf returns s's instance name.
func PrefixOf[T any](s *Store[T]) string { return s.o.Prefix }

// RouteKeyName returns the Redis key that holds s's route key when
// Options.RouteKeys is empty.
func RouteKeyName[T any](s *Store[T]) string { return s.routeKeyName() }
