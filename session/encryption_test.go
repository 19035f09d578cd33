package session_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

func encryptedJSON(t *testing.T, secret byte) codec.Codec[cart] {
	t.Helper()
	c, err := codec.Encrypt(codec.JSON[cart](), codec.EncryptOptions{
		Keys:           []codec.EncryptionKey{{ID: secret, Secret: bytes.Repeat([]byte{secret}, 32)}},
		AssociatedData: []byte("typecache/session/test"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEncryptionAtRest(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		name := redistest.Name(t)
		store := newStore(t, srv, session.Options[cart]{Prefix: name, Codec: encryptedJSON(t, 1)})
		const secret = "card-4111111111111111"
		sess, err := store.Create(background, "alice", cart{Items: []string{secret}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.Get(background, sess.Token)
		if err != nil || got.Data.Items[0] != secret {
			t.Fatalf("Get = %v, %v", got, err)
		}
		for key, values := range dump(t, srv, keyPrefix(name)) {
			for _, v := range values {
				if strings.Contains(v, secret) || strings.Contains(v, "items") {
					t.Errorf("key %s holds plaintext: %q", key, v)
				}
			}
		}
		// A store with another key cannot read it: the session is gone for
		// it, and the error says why.
		other := newStore(t, srv, session.Options[cart]{Prefix: name, Codec: encryptedJSON(t, 2)})
		if _, err := other.Get(background, sess.Token); !errors.Is(err, session.ErrNotFound) || !errors.Is(err, codec.ErrMismatch) {
			t.Errorf("Get with the wrong key = %v, want ErrNotFound wrapping codec.ErrMismatch", err)
		}
	})
}
