package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

const (
	// tokenBytes is the entropy of a token: 256 bits, twice OWASP's minimum
	// of 128 bits for self-generated identifiers.
	tokenBytes = 32
	// tokenLen is the length of a token in base64url without padding.
	tokenLen = 43
)

var tokenEncoding = base64.RawURLEncoding.Strict()

// newToken returns a fresh token: 32 bytes from crypto/rand in base64url
// without padding. crypto/rand.Read never fails (Go 1.24+); it panics
// rather than return predictable bytes.
func newToken() string {
	var raw [tokenBytes]byte
	rand.Read(raw[:])
	return tokenEncoding.EncodeToString(raw[:])
}

// tokenID returns the identifier that stands for token in Redis: the
// base64url SHA-256 of the token's bytes. ok is false when token is not
// something newToken could have produced (wrong length, wrong alphabet, or
// non-zero padding bits in the last character), so malformed input is
// rejected before any Redis call.
func tokenID(token string) (id string, ok bool) {
	if len(token) != tokenLen {
		return "", false
	}
	var raw [tokenBytes + 1]byte // Decode may write up to 33 bytes for 43 chars
	n, err := tokenEncoding.Decode(raw[:], []byte(token))
	if err != nil || n != tokenBytes {
		return "", false
	}
	sum := sha256.Sum256(raw[:tokenBytes])
	return tokenEncoding.EncodeToString(sum[:]), true
}

// publicID shortens a session's Redis identifier to the opaque ID shown by
// List: 16 characters (96 bits), enough to tell a user's sessions apart and
// to name one in Revoke, and never usable as a token. A Session that did
// not come from a Store has no id and gets "".
func publicID(id string) string { return id[:min(len(id), 16)] }
