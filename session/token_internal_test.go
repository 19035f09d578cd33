package session

import (
	"crypto/sha256"
	"math/bits"
	"strings"
	"testing"
)

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestNewTokenFormat(t *testing.T) {
	for range 1000 {
		token := newToken()
		if len(token) != 43 || strings.Trim(token, base64URLAlphabet) != "" {
			t.Fatalf("token %q: want 43 base64url characters without padding", token)
		}
		raw, err := tokenEncoding.DecodeString(token)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q decodes to %d bytes, %v; want 32", token, len(raw), err)
		}
		id, ok := tokenID(token)
		sum := sha256.Sum256(raw)
		if !ok || id != tokenEncoding.EncodeToString(sum[:]) {
			t.Fatalf("tokenID(%q) = %q, %v; want the base64url SHA-256 of its bytes", token, id, ok)
		}
	}
}

// TestNewTokenEntropy checks that tokens are unique and that every one of
// the 256 bit positions is set in about half of them. For n = 4096 tokens a
// fair bit is set 2048 ± 32 (one standard deviation) times; a stuck or
// biased bit (say, a counter or a timestamp) lands far outside ±8σ.
func TestNewTokenEntropy(t *testing.T) {
	const n = 4096
	seen := make(map[string]bool, n)
	var ones [256]int
	for range n {
		token := newToken()
		if seen[token] {
			t.Fatalf("token %q generated twice", token)
		}
		seen[token] = true
		raw, _ := tokenEncoding.DecodeString(token)
		for i, b := range raw {
			for j := range 8 {
				ones[i*8+j] += int(b>>j) & 1
			}
		}
	}
	for bit, count := range ones {
		if count < n/2-8*32 || count > n/2+8*32 {
			t.Errorf("bit %d set in %d of %d tokens, want about %d", bit, count, n, n/2)
		}
	}
	// Successive tokens share about half their bits, not more.
	a, _ := tokenEncoding.DecodeString(newToken())
	b, _ := tokenEncoding.DecodeString(newToken())
	same := 0
	for i := range a {
		same += 8 - bits.OnesCount8(a[i]^b[i])
	}
	if same > 128+8*8 {
		t.Errorf("two successive tokens share %d of 256 bits", same)
	}
}

func TestTokenIDRejectsMalformed(t *testing.T) {
	valid := newToken()
	for name, token := range map[string]string{
		"empty":                  "",
		"short":                  valid[:42],
		"long":                   valid + "A",
		"padding":                valid[:42] + "=",
		"standard alphabet +":    "+" + valid[1:],
		"standard alphabet /":    "/" + valid[1:],
		"space":                  " " + valid[1:],
		"non-ASCII":              "é" + valid[2:],
		"non-zero trailing bits": valid[:42] + "B", // 'B' = 000001: the last 2 bits must be 0
		"newline":                valid[:42] + "\n",
		"std-encoded 32 bytes":   strings.Repeat("A", 42) + "=",
		"43 chars of 33 bytes":   strings.Repeat("_", 43),
	} {
		if id, ok := tokenID(token); ok {
			t.Errorf("%s: tokenID(%q) accepted it as %q", name, token, id)
		}
	}
	if _, ok := tokenID(valid); !ok {
		t.Errorf("tokenID rejected a fresh token %q", valid)
	}
}

// FuzzTokenID: any string either is rejected or is exactly the canonical
// encoding of 32 bytes; never a panic.
func FuzzTokenID(f *testing.F) {
	f.Add(newToken())
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 42) + "B")
	f.Add(strings.Repeat("_", 43))
	f.Add("")
	f.Add(strings.Repeat("=", 43))
	f.Fuzz(func(t *testing.T, token string) {
		id, ok := tokenID(token)
		if !ok {
			return
		}
		raw, err := tokenEncoding.DecodeString(token)
		if err != nil || len(raw) != 32 || tokenEncoding.EncodeToString(raw) != token {
			t.Fatalf("tokenID accepted %q, which is not a canonical 32-byte token", token)
		}
		if len(id) != 43 || strings.Contains(token, id) {
			t.Fatalf("tokenID(%q) = %q", token, id)
		}
	})
}

// FuzzParseRecord: whatever a record's fields hold (a foreign writer, a bug,
// an attacker with Redis access), parseRecord returns an error or a record
// whose numbers passed its checks; the codec then decides about the data.
func FuzzParseRecord(f *testing.F) {
	f.Add("alice", []byte(`{"items":["a"]}`), "1", "1700000000000", "1700028800000", "1700000000000")
	f.Add("", []byte{}, "0", "-1", "x", "")
	f.Add("u", []byte{0xff, 0}, "9223372036854775807", "1", "0", "1")
	f.Fuzz(func(t *testing.T, user string, data []byte, version, created, absolute, seen string) {
		rec, err := parseRecord([]string{user, string(data), version, created, absolute, seen})
		if err != nil {
			return
		}
		if rec.version < 1 || rec.created > rec.absolute || rec.seen > rec.absolute || rec.user != user {
			t.Fatalf("parseRecord accepted an inconsistent record %+v", rec)
		}
		cfg, err := Options[map[string]any]{}.validate()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = cfg.codec.Decode(rec.data) // must not panic
	})
}
