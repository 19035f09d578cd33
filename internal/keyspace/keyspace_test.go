package keyspace

import (
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"user", true}, {"user.v2", true}, {"user@3", true}, {"a-b_c", true},
		{"", false}, {"a:b", false}, {"a{b}", false}, {"a}", false}, {"a b", false},
		{"ü", false}, {strings.Repeat("a", MaxNameLen), true}, {strings.Repeat("a", MaxNameLen+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckName(tc.name); (err == nil) != tc.ok {
				t.Fatalf("CheckName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}

// adversarialIDs are users' keys chosen to collide: separators, braces,
// escapes, empty segments and each other's prefixes.
var adversarialIDs = []string{
	"", "a", "a:", ":a", "a:b", "{a}", "a}", "}a", "{", "}", "{}", "a{b}c", "%", "%7D", "%25", "%7", "a%}",
	"l{a}", "v{a}", "lease", "cache:a:{b}", "lock", "lock:", "{job}", "secret:42", "42", "\x00", "a\x00b",
}

// adversarialNames are valid instance names chosen to collide.
var adversarialNames = []string{"a", "a.b", "a@b", "a@", "lock", "cache", "default", "user", "user.secret", "-", "_", "."}

var packages = []string{Cache, Lock, RateLimit, Session, Counter, Leaderboard}

var kinds = []string{"", "l", "f", "lease", "v", "r", "u", "w", "w1", "g"}

// TestDisjoint builds a key for every package, instance, kind and id above
// and checks that no two of them are equal and that each parses back.
func TestDisjoint(t *testing.T) {
	type origin struct{ pkg, name, kind, id string }
	seen := make(map[string]origin)
	for _, pkg := range packages {
		for _, name := range adversarialNames {
			s, err := New(pkg, name)
			if err != nil {
				t.Fatal(err)
			}
			for _, kind := range kinds {
				for _, id := range adversarialIDs {
					key := s.Key(kind, id)
					o := origin{pkg, name, kind, id}
					if prev, dup := seen[key]; dup {
						t.Fatalf("%+v and %+v both give %q", prev, o, key)
					}
					seen[key] = o
					k, i, ok := s.Parse(key)
					if !ok || k != kind || i != id {
						t.Fatalf("Parse(%q) = %q, %q, %v; want %q, %q", key, k, i, ok, kind, id)
					}
					if got := hashTag(key); id != "" && got != strings.NewReplacer("%", "%25", "}", "%7D").Replace(id) {
						t.Fatalf("hash tag of %q = %q, want the encoded id", key, got)
					}
				}
			}
		}
	}
}

// hashTag is the text Redis Cluster hashes for key.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

func TestParseRejectsForeignKeys(t *testing.T) {
	s, _ := New(Cache, "user")
	for _, key := range []string{"cache:user", "cache:user:", "cache:user:{a", "cache:user.x:{a}", "cache:user:{a}b}", "cache:user:{%zz}", "lock:user:{a}"} {
		if _, _, ok := s.Parse(key); ok {
			t.Errorf("Parse(%q) accepted a key Key never builds", key)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, id := range adversarialIDs {
		f.Add(id)
	}
	s, _ := New(Cache, "user")
	f.Fuzz(func(t *testing.T, id string) {
		kind, got, ok := s.Parse(s.Key("l", id))
		if !ok || kind != "l" || got != id {
			t.Fatalf("round trip of %q: %q %q %v", id, kind, got, ok)
		}
		_, _, _ = s.Parse(id) // any input: no panic
		if keys := s.Keys(id, "", "l", "g"); len(keys) != 3 || keys[0] != s.Key("", id) || keys[1] != s.Key("l", id) || keys[2] != s.Key("g", id) {
			t.Fatalf("Keys(%q) = %q, unlike Key's", id, keys)
		}
	})
}

func TestKeysAreKeys(t *testing.T) {
	s, _ := New(Cache, "user")
	for _, id := range append([]string{"", "a", "%", "}", "a}%b%}"}, adversarialIDs...) {
		keys := s.Keys(id, "", "l")
		if len(keys) != 2 || keys[0] != s.Key("", id) || keys[1] != s.Key("l", id) {
			t.Errorf("Keys(%q) = %q, want %q and %q", id, keys, s.Key("", id), s.Key("l", id))
		}
	}
	if keys := s.Keys("a"); len(keys) != 0 {
		t.Errorf("Keys without kinds = %q", keys)
	}
}

func TestSlot(t *testing.T) {
	// Slots Redis gives these hash tags (CLUSTER KEYSLOT).
	for id, want := range map[string]uint16{"foo": 12182, "123456789": 12739, "": 0} {
		if got := Slot(id); got != want {
			t.Errorf("Slot(%q) = %d, want %d", id, got, want)
		}
	}
}
