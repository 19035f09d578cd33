package session

import (
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
//     that holds the session: for a user's session, a hash of the user ID,
//     so that all of a user's sessions live in one key and one script sees
//     them all (DestroyAll racing Regenerate); for an anonymous session,
//     random bytes chosen at Create and kept by Regenerate. The route is a
//     locator, not a secret.
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

// newSecret returns 32 bytes from crypto/rand in base64url. crypto/rand.Read
// never fails (Go 1.24+); it panics rather than return predictable bytes.
func newSecret() string {
	var raw [secretBytes]byte
	rand.Read(raw[:])
	return tokenEncoding.EncodeToString(raw[:])
}

// newRoute returns a random route, for an anonymous session.
func newRoute() string {
	var raw [routeBytes]byte
	rand.Read(raw[:])
	return tokenEncoding.EncodeToString(raw[:])
}

// userRoute returns the route of userID's sessions: the first 128 bits of
// a domain-separated SHA-256, so that the key names no user in clear and
// no two users share a key short of a 2⁶⁴-work collision (and even then
// each record names its user, which every per-user script checks).
func userRoute(userID string) string {
	h := sha256.New()
	h.Write([]byte("typecache/session/user\x00"))
	h.Write([]byte(userID))
	var sum [sha256.Size]byte
	return tokenEncoding.EncodeToString(h.Sum(sum[:0])[:routeBytes])
}

// routeFor returns the route of a new session of userID.
func routeFor(userID string) string {
	if userID == "" {
		return newRoute()
	}
	return userRoute(userID)
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

// newID returns a fresh secret's token on route and the session's id.
func newID(route string) (token, id string) {
	token = route + "." + newSecret()
	_, id, _ = parseToken(token)
	return token, id
}

// publicID shortens a session's id to the opaque ID shown by List: 16
// characters (96 bits), enough to tell a user's sessions apart and to name
// one in Revoke, and never usable as a token. A Session that did not come
// from a Store has no id and gets "".
func publicID(id string) string { return id[:min(len(id), publicIDLen)] }
