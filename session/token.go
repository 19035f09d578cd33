package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// A token is "<route>.<secret>":
//
//   - secret is 32 bytes from crypto/rand, base64url without padding (43
//     characters): the part that authenticates. Redis only sees its SHA-256,
//     the session's id.
//   - route is 16 bytes, base64url (22 characters), and names the Redis hash
//     that holds the session: for a user's session, an HMAC of the user ID
//     under a route key (see routekey.go), so that all of a user's sessions
//     live in one key and one script sees them all (DestroyAll racing
//     Regenerate) while the token names nobody to whoever lacks the key;
//     for an anonymous session, random bytes chosen at Create and kept by
//     Regenerate. The route is a locator, not a secret.
const (
	secretBytes = 32
	secretLen   = 43
	routeBytes  = 16
	routeLen    = 22
	tokenLen    = routeLen + 1 + secretLen
	idLen       = 43 // base64url of a SHA-256
	publicIDLen = 16
)

var tokenEncoding = base64.RawURLEncoding.Strict()

// newRoute returns the route of a new session of userID: its route under
// the current route key, or none for an anonymous session, whose route
// newID draws.
func (s *Store[T]) newRoute(ctx context.Context, userID string) (string, error) {
	if userID == "" {
		return "", nil
	}
	keys, err := s.routing(ctx)
	if err != nil {
		return "", err
	}
	return keys.route(0, userID), nil
}

// parseToken splits token into its route and the session's id (the
// base64url SHA-256 of the secret's bytes). ok is false for anything a
// Store could not have issued: wrong length or separator, a character
// outside base64url, or non-zero padding bits, so malformed input is
// rejected before any Redis call.
func parseToken(token string) (route, id string, ok bool) {
	if len(token) != tokenLen || token[routeLen] != '.' {
		return "", "", false
	}
	var raw [secretBytes + 1]byte // Decode may write one byte more than it returns
	if n, err := tokenEncoding.Decode(raw[:], []byte(token[:routeLen])); err != nil || n != routeBytes {
		return "", "", false
	}
	if n, err := tokenEncoding.Decode(raw[:], []byte(token[routeLen+1:])); err != nil || n != secretBytes {
		return "", "", false
	}
	sum := sha256.Sum256(raw[:secretBytes])
	return token[:routeLen], tokenEncoding.EncodeToString(sum[:]), true
}

// newID returns a fresh secret's token on route, or on a random route
// when route is empty (an anonymous session's), and the session's id: what
// parseToken returns for the token, computed from the secret's bytes
// rather than by decoding it again. One read of crypto/rand draws the
// route and the secret; crypto/rand.Read never fails (Go 1.24+), it panics
// rather than return predictable bytes.
func newID(route string) (token, id string) {
	var raw [routeBytes + secretBytes]byte
	rand.Read(raw[:])
	var b [tokenLen]byte
	if route == "" {
		tokenEncoding.Encode(b[:routeLen], raw[:routeBytes])
	} else {
		copy(b[:routeLen], route)
	}
	b[routeLen] = '.'
	secret := raw[routeBytes:]
	tokenEncoding.Encode(b[routeLen+1:], secret)
	sum := sha256.Sum256(secret)
	return string(b[:]), tokenEncoding.EncodeToString(sum[:])
}

// publicID shortens a session's id to the opaque ID shown by List: 16
// characters (96 bits), enough to tell a user's sessions apart and to name
// one in Revoke, and never usable as a token. A Session that did not come
// from a Store has no id and gets "".
func publicID(id string) string { return id[:min(len(id), publicIDLen)] }
