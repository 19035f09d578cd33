package session_test

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// dump returns every key under prefix on every node of srv, with the
// strings its value holds (hash fields and values).
func dump(t *testing.T, srv *redistest.Server, prefix string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, node := range srv.Raw(t).Nodes() {
		var cursor uint64
		for {
			entry, err := node.Do(background, node.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range entry.Elements {
				var values []string
				var err error
				switch typ, _ := node.Do(background, node.B().Type().Key(key).Build()).ToString(); typ {
				case "hash":
					var fields map[string]string
					fields, err = node.Do(background, node.B().Hgetall().Key(key).Build()).AsStrMap()
					for f, v := range fields {
						values = append(values, f, v)
					}
				case "string": // the route key
					var v string
					v, err = node.Do(background, node.B().Get().Key(key).Build()).ToString()
					values = append(values, v)
				default:
					t.Fatalf("key %q has unexpected type %q", key, typ)
				}
				if err != nil && !rueidis.IsRedisNil(err) {
					t.Fatal(err)
				}
				out[key] = values
			}
			if cursor = entry.Cursor; cursor == 0 {
				break
			}
		}
	}
	return out
}

func TestRedisHoldsNoToken(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t)
		store, clk := newClockedStore(t, srv, session.Options[cart]{Prefix: name, IdleTimeout: time.Minute})
		var tokens []string
		keep := func(s *session.Session[cart], err error) *session.Session[cart] {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, s.Token)
			return s
		}
		for _, user := range []string{"alice", "bob", ""} {
			s := keep(store.Create(background, user, cart{Items: []string{"x"}}))
			clk.Advance(30 * time.Second)
			s = keep(store.Get(background, s.Token))
			s.Data.Admin = true
			if err := store.Save(background, s); err != nil {
				t.Fatal(err)
			}
			keep(store.Regenerate(background, s))
			doomed := keep(store.Create(background, user, cart{}))
			if err := store.Destroy(background, doomed.Token); err != nil {
				t.Fatal(err)
			}
		}
		contents := dump(t, srv, keyPrefix(name))
		if len(contents) != 4 { // the route key, alice's sessions, bob's, the anonymous one (the destroyed one's key is gone)
			t.Fatalf("found %d keys under %q, want 4: %v", len(contents), keyPrefix(name), contents)
		}
		// The route (the part before '.') locates the session's key and is
		// no secret; the secret after it must appear nowhere.
		for key, values := range contents {
			for _, s := range append([]string{key}, values...) {
				for _, token := range tokens {
					secret := token[strings.IndexByte(token, '.')+1:]
					raw, _ := base64.RawURLEncoding.DecodeString(secret)
					if strings.Contains(s, secret) || bytes.Contains([]byte(s), raw) {
						t.Errorf("Redis holds the secret of token %s in key %q: %q", token, key, s)
					}
				}
			}
		}
	})
}

// TestEndedSessionsArePruned: a user's ended sessions leave the user's key
// at the next Create, and the key expires with its last session.
func TestEndedSessionsArePruned(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t)
		store, clk := newClockedStore(t, srv, session.Options[cart]{Prefix: name, IdleTimeout: time.Minute, AbsoluteTimeout: time.Hour})
		var renewed *session.Session[cart]
		for range 3 {
			s, err := store.Create(background, "alice", cart{})
			if err != nil {
				t.Fatal(err)
			}
			if renewed, err = store.Regenerate(background, s); err != nil { // leaves a forward behind
				t.Fatal(err)
			}
		}
		clk.Advance(5 * time.Minute) // every session idles out, every forward ends
		fresh, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		key, id := session.SessionKey(store, fresh.Token)
		if renewedKey, _ := session.SessionKey(store, renewed.Token); renewedKey != key || session.UserKey(store, "alice") != key {
			t.Fatalf("alice's sessions are in keys %s and %s, want one key %s", key, renewedKey, session.UserKey(store, "alice"))
		}
		fields, err := srv.Raw(t).Do(background, srv.Raw(t).B().Hkeys().Key(key).Build()).AsStrSlice()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(fields)
		if want := []string{id, id + "d"}; !slices.Equal(fields, want) {
			t.Errorf("fields of %s = %v, want only the fresh session's %v", key, fields, want)
		}
		ttl, err := srv.Raw(t).Do(background, srv.Raw(t).B().Pttl().Key(key).Build()).AsInt64()
		if err != nil || ttl <= 0 || ttl > time.Minute.Milliseconds() {
			t.Errorf("PTTL of %s = %d ms, %v; want (0, 1 min]: the key expires with its last session", key, ttl, err)
		}
	})
}
