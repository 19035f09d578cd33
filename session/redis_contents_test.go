package session_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache/internal/redistest"
	"github.com/typecache/typecache/session"
)

// dump returns every key under prefix on every node of srv, with the
// strings its value holds (hash fields and values, sorted-set members and
// scores).
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
				case "zset":
					values, err = node.Do(background, node.B().Zrange().Key(key).Min("0").Max("-1").Withscores().Build()).AsStrSlice()
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
		prefix := redistest.Prefix(t)
		store, clk := newClockedStore(t, srv, session.Options[cart]{Prefix: prefix, IdleTimeout: time.Minute})
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
		contents := dump(t, srv, prefix)
		if len(contents) < 5 { // 3 live records, 2 user indexes
			t.Fatalf("found only %d keys under %q: %v", len(contents), prefix, contents)
		}
		for key, values := range contents {
			for _, s := range append([]string{key}, values...) {
				for _, token := range tokens {
					raw, _ := base64.RawURLEncoding.DecodeString(token)
					if strings.Contains(s, token) || bytes.Contains([]byte(s), raw) {
						t.Errorf("Redis holds token %s in key %q: %q", token, key, s)
					}
				}
			}
		}
	})
}

func TestIndexIsPrunedAfterAbsoluteDeadline(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		prefix := redistest.Prefix(t)
		store, clk := newClockedStore(t, srv, session.Options[cart]{Prefix: prefix, IdleTimeout: time.Minute, AbsoluteTimeout: time.Hour})
		for range 3 {
			if _, err := store.Create(background, "alice", cart{}); err != nil {
				t.Fatal(err)
			}
		}
		// Past the deadline plus the index's grace (one minute), the next
		// Create drops the three dead entries.
		clk.Advance(time.Hour + time.Minute + time.Millisecond)
		fresh, err := store.Create(background, "alice", cart{})
		if err != nil {
			t.Fatal(err)
		}
		index := prefix + "u:{alice}"
		members, err := srv.Raw(t).Do(background, srv.Raw(t).B().Zrange().Key(index).Min("0").Max("-1").Build()).AsStrSlice()
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != 1 || !strings.HasPrefix(members[0], fresh.ID()) {
			t.Errorf("index %s = %v, want only the fresh session %s…", index, members, fresh.ID())
		}
		ttl, err := srv.Raw(t).Do(background, srv.Raw(t).B().Pttl().Key(index).Build()).AsInt64()
		if err != nil || ttl <= 0 || ttl > (time.Hour+time.Minute).Milliseconds() {
			t.Errorf("index PTTL = %d ms, %v; want (0, 61 min]: the index expires with its last session", ttl, err)
		}
	})
}
