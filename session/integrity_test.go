package session_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

var (
	keyA = bytes.Repeat([]byte{0xa}, 32)
	keyB = bytes.Repeat([]byte{0xb}, 32)
)

// TestIntegrityAgainstRedisWriters plays someone who can write to Redis but
// holds no integrity key: minting a session for a user, taking over a
// session by rewriting its owner, and moving data between records. Without
// IntegrityKeys each works (Redis must be trusted); with them each record
// reads as ErrNotFound wrapping ErrTampered.
func TestIntegrityAgainstRedisWriters(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		raw := srv.Raw(t)
		hset := func(key string, fieldValues ...string) {
			t.Helper()
			if err := raw.Do(background, raw.B().Hset().Key(key).FieldValue().FieldValue(fieldValues[0], fieldValues[1]).FieldValue(fieldValues[2], fieldValues[3]).Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
		hget := func(key, field string) string {
			t.Helper()
			v, err := raw.Do(background, raw.B().Hget().Key(key).Field(field).Build()).ToString()
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		attacks := []struct {
			name string
			run  func(t *testing.T, store *session.Store[cart]) (token string)
		}{
			{"mint a session for alice", func(t *testing.T, store *session.Store[cart]) string {
				// The route of alice's key is in any of her cookies; here,
				// from a session she has.
				victim, err := store.Create(background, "alice", cart{})
				if err != nil {
					t.Fatal(err)
				}
				token := victim.Token[:23] + wellFormed[23:] // alice's route, the attacker's secret
				key, id := session.SessionKey(store, token)
				now := time.Now().UnixMilli()
				data, err := codec.JSON[cart]().Append(nil, cart{Items: []string{"minted"}, Admin: true}) // the codec is no secret
				if err != nil {
					t.Fatal(err)
				}
				hset(key, id, fmt.Sprintf("1 %d %d %d - alice", now, now+time.Hour.Milliseconds(), now), id+"d", string(data))
				return token
			}},
			{"rewrite a session's owner", func(t *testing.T, store *session.Store[cart]) string {
				// A user's session is valid only on its user's route: the
				// attacker's own anonymous session, rewritten to alice, moves
				// to her key (whose route is in any of her cookies).
				own, err := store.Create(background, "", cart{})
				if err != nil {
					t.Fatal(err)
				}
				victim, err := store.Create(background, "alice", cart{})
				if err != nil {
					t.Fatal(err)
				}
				key, id := session.SessionKey(store, own.Token)
				token := victim.Token[:23] + own.Token[23:] // alice's route, the attacker's secret
				aliceKey, _ := session.SessionKey(store, token)
				meta := hget(key, id)
				hset(aliceKey, id, strings.TrimSuffix(meta, " ")+" alice", id+"d", hget(key, id+"d")) // the user ID is the meta's last field
				return token
			}},
			{"move data between records", func(t *testing.T, store *session.Store[cart]) string {
				admin, err := store.Create(background, "bob", cart{Admin: true})
				if err != nil {
					t.Fatal(err)
				}
				plain, err := store.Create(background, "bob", cart{})
				if err != nil {
					t.Fatal(err)
				}
				key, adminID := session.SessionKey(store, admin.Token)
				_, plainID := session.SessionKey(store, plain.Token)
				hset(key, plainID, hget(key, plainID), plainID+"d", hget(key, adminID+"d"))
				return plain.Token
			}},
		}
		for _, attack := range attacks {
			t.Run(attack.name, func(t *testing.T) {
				trusting := newStore(t, srv, session.Options[cart]{DisableLocal: true})
				if _, err := trusting.Get(background, attack.run(t, trusting)); err != nil {
					t.Errorf("without IntegrityKeys: %v; the attack was expected to work (Redis is trusted)", err)
				}
				var rejected []session.RejectReason
				guarded := newStore(t, srv, session.Options[cart]{IntegrityKeys: [][]byte{keyA}, Observer: rejectRecorder(&rejected)})
				token := attack.run(t, guarded) // creates keep nothing: the reads below go to Redis
				for range 2 {                   // the refusal is not kept in the local tier
					if _, err := guarded.Get(background, token); !errors.Is(err, session.ErrNotFound) || !errors.Is(err, session.ErrTampered) {
						t.Fatalf("with IntegrityKeys: %v, want ErrNotFound wrapping ErrTampered", err)
					}
				}
				if len(rejected) != 2 || rejected[0] != session.RejectTampered {
					t.Errorf("observer heard %v, want tampered twice", rejected)
				}
			})
		}
	})
}

type rejectObserver struct {
	session.NoopObserver
	reasons *[]session.RejectReason
}

func (o rejectObserver) OnRejected(r session.RejectReason) { *o.reasons = append(*o.reasons, r) }

func rejectRecorder(reasons *[]session.RejectReason) session.Observer {
	return rejectObserver{reasons: reasons}
}

// TestIntegrityKeepsWorking: signed sessions survive everything the store
// does to them (reads that extend the idle deadline, saves, regeneration,
// lists), and key rotation works: a store that lists the old key second
// reads sessions the old key signed; one without it does not.
func TestIntegrityKeepsWorking(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		store, clk := newClockedStore(t, srv, session.Options[cart]{IntegrityKeys: [][]byte{keyA}, IdleTimeout: 10 * time.Minute})
		sess, err := store.Create(background, "alice", cart{Items: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute) // past the touch threshold: the read extends it
		if sess, err = store.Get(background, sess.Token); err != nil || !sess.LastSeen.Equal(clk.Now()) {
			t.Fatalf("Get after a touch: %v, %v", sess, err)
		}
		sess.Data.Items = append(sess.Data.Items, "b")
		if err := store.Save(background, sess); err != nil {
			t.Fatal(err)
		}
		if sess, err = store.Regenerate(background, sess); err != nil {
			t.Fatal(err)
		}
		if got, err := store.Get(background, sess.Token); err != nil || len(got.Data.Items) != 2 {
			t.Fatalf("Get after Save and Regenerate: %v, %v", got, err)
		}
		if infos, err := store.List(background, "alice"); err != nil || len(infos) != 1 {
			t.Fatalf("List = %v, %v; want the one session", infos, err)
		}

		rotated := newStore(t, srv, session.Options[cart]{Prefix: session.PrefixOf(store), IntegrityKeys: [][]byte{keyB, keyA}})
		session.SetClock(rotated, clk.Now)
		if _, err := rotated.Get(background, sess.Token); err != nil {
			t.Errorf("rotated store (new key first, old key second): %v", err)
		}
		retired := newStore(t, srv, session.Options[cart]{Prefix: session.PrefixOf(store), IntegrityKeys: [][]byte{keyB}})
		session.SetClock(retired, clk.Now)
		if _, err := retired.Get(background, sess.Token); !errors.Is(err, session.ErrTampered) {
			t.Errorf("store without the signing key: %v, want ErrTampered", err)
		}
	})
}
