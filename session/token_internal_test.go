package session

import (
	"crypto/sha256"
	"math/bits"
	"strconv"
	"strings"
	"testing"
)

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestNewTokenFormat(t *testing.T) {
	keys := routeKeys{[]byte(strings.Repeat("k", MinRouteKeyLen))}
	for _, user := range []string{"", "alice", "a user with spaces"} {
		want := "" // an anonymous session's route is random
		if user != "" {
			want = keys.route(0, user)
		}
		for range 300 {
			token, id := newID(want)
			route, secret, ok := strings.Cut(token, ".")
			if len(token) != 66 || !ok || len(route) != 22 || len(secret) != 43 ||
				strings.Trim(route, base64URLAlphabet) != "" || strings.Trim(secret, base64URLAlphabet) != "" {
				t.Fatalf("token %q: want 22 and 43 base64url characters joined by '.'", token)
			}
			raw, err := tokenEncoding.DecodeString(secret)
			if err != nil || len(raw) != 32 {
				t.Fatalf("secret %q decodes to %d bytes, %v; want 32", secret, len(raw), err)
			}
			gotRoute, gotID, ok := parseToken(token)
			sum := sha256.Sum256(raw)
			if !ok || gotRoute != route || gotID != id || id != tokenEncoding.EncodeToString(sum[:]) {
				t.Fatalf("parseToken(%q) = %q, %q, %v; want the route and the base64url SHA-256 of the secret's bytes", token, gotRoute, gotID, ok)
			}
			if user != "" && gotRoute != keys.route(0, user) {
				t.Fatalf("route of %q's token = %q, want its keyed route %q", user, gotRoute, keys.route(0, user))
			}
		}
	}
	if keys.route(0, "alice") == keys.route(0, "bob") || keys.route(0, "") == keys.route(0, "alice") {
		t.Error("two users share a route")
	}
}

// TestNewTokenEntropy checks that secrets are unique and that every one of
// the 256 bit positions is set in about half of them. For n = 4096 secrets
// a fair bit is set 2048 ± 32 (one standard deviation) times; a stuck or
// biased bit (say, a counter or a timestamp) lands far outside ±8σ.
func TestNewTokenEntropy(t *testing.T) {
	const n = 4096
	seen := make(map[string]bool, n)
	var ones [256]int
	for range n {
		token, _ := newID("")
		secret := token[routeLen+1:]
		if seen[secret] {
			t.Fatalf("secret %q generated twice", secret)
		}
		seen[secret] = true
		raw, _ := tokenEncoding.DecodeString(secret)
		for i, b := range raw {
			for j := range 8 {
				ones[i*8+j] += int(b>>j) & 1
			}
		}
	}
	for bit, count := range ones {
		if count < n/2-8*32 || count > n/2+8*32 {
			t.Errorf("bit %d set in %d of %d secrets, want about %d", bit, count, n, n/2)
		}
	}
	// Successive secrets share about half their bits, not more.
	first, _ := newID("")
	second, _ := newID("")
	a, _ := tokenEncoding.DecodeString(first[routeLen+1:])
	b, _ := tokenEncoding.DecodeString(second[routeLen+1:])
	same := 0
	for i := range a {
		same += 8 - bits.OnesCount8(a[i]^b[i])
	}
	if same > 128+8*8 {
		t.Errorf("two successive secrets share %d of 256 bits", same)
	}
}

func TestParseTokenRejectsMalformed(t *testing.T) {
	valid, _ := newID("")
	route, secret := valid[:22], valid[23:]
	for name, token := range map[string]string{
		"empty":                         "",
		"secret only":                   secret,
		"short":                         valid[:65],
		"long":                          valid + "A",
		"no separator":                  route + "A" + secret,
		"other separator":               route + "~" + secret,
		"padding":                       valid[:65] + "=",
		"standard alphabet +":           "+" + valid[1:],
		"standard alphabet /":           route + "./" + secret[1:],
		"space":                         " " + valid[1:],
		"non-ASCII":                     "é" + valid[2:],
		"secret non-zero trailing bits": valid[:65] + "B", // 'B' = 000001: the last 2 bits must be 0
		"route non-zero trailing bits":  route[:21] + "B." + secret,
		"newline":                       valid[:65] + "\n",
		"43 chars of 33 bytes":          route + "." + strings.Repeat("_", 43),
		"route of 17 bytes":             strings.Repeat("_", 22) + "." + secret,
		"separator in the wrong place":  route[:21] + "." + route[21:] + secret[1:],
		"route and secret swapped":      secret + "." + route, // a random swapped-size token can be well-formed (1 in 64)
	} {
		if _, id, ok := parseToken(token); ok {
			t.Errorf("%s: parseToken(%q) accepted it as %q", name, token, id)
		}
	}
	if _, _, ok := parseToken(valid); !ok {
		t.Errorf("parseToken rejected a fresh token %q", valid)
	}
}

// FuzzParseToken: any string either is rejected or is exactly a canonical
// route and secret; never a panic.
func FuzzParseToken(f *testing.F) {
	valid, _ := newID("")
	f.Add(valid)
	f.Add(strings.Repeat("A", 22) + "." + strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 22) + "." + strings.Repeat("A", 42) + "B")
	f.Add(strings.Repeat("_", 66))
	f.Add("")
	f.Add(strings.Repeat("=", 66))
	f.Fuzz(func(t *testing.T, token string) {
		route, id, ok := parseToken(token)
		if !ok {
			return
		}
		rawRoute, err1 := tokenEncoding.DecodeString(route)
		rawSecret, err2 := tokenEncoding.DecodeString(token[23:])
		if err1 != nil || err2 != nil || len(rawRoute) != 16 || len(rawSecret) != 32 ||
			tokenEncoding.EncodeToString(rawRoute)+"."+tokenEncoding.EncodeToString(rawSecret) != token {
			t.Fatalf("parseToken accepted %q, which is not a canonical token", token)
		}
		if len(id) != 43 || strings.Contains(token, id) {
			t.Fatalf("parseToken(%q) id = %q", token, id)
		}
	})
}

// FuzzParseMeta: whatever a session's meta field holds (a foreign writer, a
// bug, an attacker with Redis access), parseMeta returns an error or a
// record whose numbers passed its checks, and pack in the scripts could
// have written it; the codec then decides about the data.
func FuzzParseMeta(f *testing.F) {
	f.Add("1 1700000000000 1700028800000 1700000000000 - alice", []byte(`{"items":["a"]}`))
	f.Add("> 0123456789012345678901234567890123456789012 1700028800000", []byte{})
	f.Add("9223372036854775807 1 0 1 x u", []byte{0xff, 0})
	f.Add("1 2 3 4 - ", []byte("null"))
	f.Add("-1 2 3 4 - u", []byte("null"))
	f.Add("1 2 3 4 -", []byte("null"))
	f.Fuzz(func(t *testing.T, meta string, data []byte) {
		rec, err := parseMeta(meta)
		if err != nil {
			return
		}
		if rec.version < 1 || rec.created > rec.absolute || rec.seen < 0 || rec.mac == "" || strings.Contains(rec.mac, " ") {
			t.Fatalf("parseMeta accepted an inconsistent record %+v from %q", rec, meta)
		}
		o, err := Options[map[string]any]{}.validated()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = o.Codec.Decode(data) // must not panic
	})
}

// FuzzParseRouteKey: whatever the route key's Redis key holds, parseRouteKey
// returns a key of exactly routeKeyBytes or an error.
func FuzzParseRouteKey(f *testing.F) {
	f.Add(tokenEncoding.EncodeToString(make([]byte, routeKeyBytes)))
	f.Add(strings.Repeat("A", 42) + "B")
	f.Add(strings.Repeat("A", 44))
	f.Add("")
	f.Add("\x00\xff=")
	f.Fuzz(func(t *testing.T, text string) {
		keys, err := parseRouteKey(text)
		if err != nil {
			return
		}
		if len(keys) != 1 || len(keys[0]) != routeKeyBytes || tokenEncoding.EncodeToString(keys[0]) != text {
			t.Fatalf("parseRouteKey(%q) = %x: want one canonical %d-byte key", text, keys, routeKeyBytes)
		}
	})
}

// TestRouteRevealsNothingWithoutKey plays someone who sees a token and
// guesses whose it is from a list of likely user IDs: without the route key
// no guess matches the route, neither under the unkeyed hash earlier
// releases used nor under another key; with it, exactly the owner's does
// (so the guessing itself works). Routes under two keys share no more bits
// than chance.
func TestRouteRevealsNothingWithoutKey(t *testing.T) {
	key := routeKeys{[]byte(strings.Repeat("s", routeKeyBytes))}
	guessKey := routeKeys{[]byte(strings.Repeat("g", routeKeyBytes))}
	unkeyed := func(userID string) string { // the route of earlier releases
		sum := sha256.Sum256([]byte("typecache/session/user\x00" + userID))
		return tokenEncoding.EncodeToString(sum[:routeBytes])
	}
	var candidates []string
	for i := range 1000 {
		candidates = append(candidates, strconv.Itoa(i), "user"+strconv.Itoa(i)+"@example.com")
	}
	const owner = "user417@example.com"
	token, _ := newID(key.route(0, owner))
	seen := token[:routeLen]
	for _, tc := range []struct {
		name  string
		route func(string) string
		want  int
	}{
		{"unkeyed hash", unkeyed, 0},
		{"another key", func(u string) string { return guessKey.route(0, u) }, 0},
		{"the key", func(u string) string { return key.route(0, u) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matches := 0
			for _, u := range candidates {
				if tc.route(u) == seen {
					matches++
				}
			}
			if matches != tc.want {
				t.Errorf("%d of %d guesses match the route, want %d", matches, len(candidates), tc.want)
			}
		})
	}
	same := 0
	for _, u := range candidates {
		a, _ := tokenEncoding.DecodeString(key.route(0, u))
		b, _ := tokenEncoding.DecodeString(guessKey.route(0, u))
		for i := range a {
			same += 8 - bits.OnesCount8(a[i]^b[i])
		}
	}
	// 2,000 routes of 128 bits: 128,000 ± 253 (one standard deviation).
	if n := len(candidates) * 64; same < n-8*253 || same > n+8*253 {
		t.Errorf("routes under two keys share %d of %d bits, want about %d", same, 2*n, n)
	}
}
