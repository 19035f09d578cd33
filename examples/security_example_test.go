package examples_test

// The examples in this file are the code of docs/security.md, which the doc
// checker (internal/testkit/doccheck) finds here.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// Visit is an application's session data.
type Visit struct {
	Name string
}

// Encrypted sessions: the codec seals the session data; the store never sees
// the keys.
func Example_encryptedSessions() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	secret := make([]byte, 32) // in production: from your secret manager
	rand.Read(secret)

	sealed, err := codec.Encrypt(codec.JSON[Visit](), codec.EncryptOptions{
		Keys:           []codec.EncryptionKey{{ID: 1, Secret: secret}},
		AssociatedData: []byte("webapp/session/v1"), // what the data is for
	})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := session.New(client, session.Options[Visit]{Codec: sealed})
	if err != nil {
		log.Fatal(err)
	}
	_ = sessions
}

// Key rotation: the first key seals, every listed key opens.
func Example_keyRotation() {
	oldKey, newKey := make([]byte, 32), make([]byte, 32)
	rand.Read(oldKey)
	rand.Read(newKey)
	purpose := []byte("webapp/session/v1")

	before, _ := codec.Encrypt(codec.JSON[Visit](), codec.EncryptOptions{
		Keys:           []codec.EncryptionKey{{ID: 1, Secret: oldKey}},
		AssociatedData: purpose,
	})
	stored, _ := before.Append(nil, Visit{Name: "ada"})

	// Rotate: the new key first, the old one kept until everything it
	// sealed has expired (for sessions: one AbsoluteTimeout).
	during, _ := codec.Encrypt(codec.JSON[Visit](), codec.EncryptOptions{
		Keys: []codec.EncryptionKey{
			{ID: 2, Secret: newKey}, // seals from now on
			{ID: 1, Secret: oldKey}, // still opens what it sealed
		},
		AssociatedData: purpose,
	})
	v, err := during.Decode(stored)
	fmt.Println("during rotation:", v.Name, err)

	after, _ := codec.Encrypt(codec.JSON[Visit](), codec.EncryptOptions{
		Keys:           []codec.EncryptionKey{{ID: 2, Secret: newKey}},
		AssociatedData: purpose,
	})
	_, err = after.Decode(stored)
	fmt.Println("after dropping key 1, a miss:", errors.Is(err, codec.ErrMismatch))
	// Output:
	// during rotation: ada <nil>
	// after dropping key 1, a miss: true
}

// Behind a load balancer: trust X-Forwarded-For only from its network.
func Example_trustedProxies() {
	src := ratelimit.ClientIPSource{
		Header:         "X-Forwarded-For",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, // your load balancers
	}

	r := httptest.NewRequest("GET", "/api/profile", nil)
	r.RemoteAddr = "10.0.3.7:51234" // the load balancer
	r.Header.Set("X-Forwarded-For", "1.2.3.4, 203.0.113.9")
	fmt.Println(ratelimit.ClientIP(r, src)) // the client the proxy saw; 1.2.3.4 is whatever the client wrote

	r.RemoteAddr = "198.51.100.20:40000" // not a proxy: the header is ignored
	fmt.Println(ratelimit.ClientIP(r, src))
	// Output:
	// 203.0.113.9
	// 198.51.100.20
}

// A login limiter: keyed by account, so that an attacker rotating addresses
// still meets the limit, and closed when Redis is down.
func Example_loginLimiter() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	logins, err := ratelimit.New(client, ratelimit.Options{
		Limit:       5,
		Period:      15 * time.Minute,
		Prefix:      "login",
		FailureMode: ratelimit.FailClosed,
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := logins.Allow(ctx, "account:ada@example.com")
	if err != nil {
		log.Fatal(err)
	}
	if !res.Allowed {
		fmt.Println("too many attempts, retry in", res.RetryAfter)
	}
}
