package session

import "time"

// SetClock makes s's scripts use now() instead of Redis TIME, so tests can
// move time without sleeping.
func SetClock[T any](s *Store[T], now func() time.Time) { s.now = now }

// Version returns the record version sess was loaded at.
func Version[T any](sess *Session[T]) int64 { return sess.version }

// WellFormed reports whether token has the shape of a token.
func WellFormed(token string) bool {
	_, ok := tokenID(token)
	return ok
}
