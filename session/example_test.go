package session_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/redis/rueidis"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/session"
)

// Profile is an application's session data.
type Profile struct {
	Name  string
	Roles []string
}

// Example is a session's life outside HTTP handlers; in handlers,
// Store.Middleware does the same through the cookie (see
// ExampleStore_Middleware).
func Example() {
	var client *typecache.Client // from typecache.NewClient
	ctx := context.Background()

	store, err := session.New(client, session.Options[Profile]{}) // zero Options = safe defaults
	if err != nil {
		log.Fatal(err)
	}
	sess, err := store.Create(ctx, "user-42", Profile{Name: "Ada"}) // new token, 256 bits
	if err != nil {
		log.Fatal(err)
	}
	token := sess.Token // for the cookie only: Redis sees a SHA-256 of its secret part

	sess, err = store.Get(ctx, token) // from memory while unchanged, else 1 round trip
	if errors.Is(err, session.ErrNotFound) {
		return // unknown, expired, destroyed or malformed: log in again
	} else if err != nil {
		log.Fatal(err)
	}
	sess.Data.Name = "Ada L."
	if err := store.Save(ctx, sess); err != nil {
		log.Fatal(err) // ErrConflict if another request saved first: Get and redo
	}
	sess, err = store.Regenerate(ctx, sess) // login / privilege change: new token, old one dead
	if err != nil {
		log.Fatal(err)
	}
	if err := store.DestroyAll(ctx, sess.UserID); err != nil { // log out everywhere: one script, no SCAN
		log.Fatal(err)
	}
}

func ExampleNew() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	store, err := session.New(client, session.Options[Profile]{
		Prefix:          "myapp",
		IdleTimeout:     15 * time.Minute,
		AbsoluteTimeout: 8 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	sess, err := store.Create(ctx, "user-42", Profile{Name: "Ada"})
	if err != nil {
		log.Fatal(err)
	}
	// Later, with the token from the cookie:
	sess, err = store.Get(ctx, sess.Token)
	if err != nil {
		log.Fatal(err) // session.ErrNotFound: unknown, expired or malformed
	}
	fmt.Println(sess.Data.Name, sess.ExpiresAt.Sub(sess.LastSeen))
}

func ExampleStore_Middleware() {
	var store *session.Store[Profile] // from session.New

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password, then start a fresh session: any session
		// the browser brought is destroyed (fixation defence). It is stored,
		// with whatever Put adds, when the response header is written.
		if _, err := store.Start(r.Context(), "user-42", Profile{Name: "Ada"}); err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /promote", func(w http.ResponseWriter, r *http.Request) {
		sess := store.Current(r.Context())
		if sess == nil {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		profile := sess.Data
		profile.Roles = append(profile.Roles, "admin")
		store.Put(r.Context(), profile)                     // saved after the handler
		if _, err := store.Renew(r.Context()); err != nil { // privilege change: new token
			http.Error(w, "try again", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		store.End(r.Context()) // destroys the session and clears the cookie
	})
	log.Fatal(http.ListenAndServe(":8080", store.Middleware(mux)))
}

func ExampleStore_List() {
	var store *session.Store[Profile] // from session.New
	ctx := context.Background()

	infos, err := store.List(ctx, "user-42")
	if err != nil {
		log.Fatal(err)
	}
	for _, info := range infos {
		fmt.Printf("%s: since %s, last seen %s\n", info.ID, info.CreatedAt.Format(time.DateTime), info.LastSeen.Format(time.DateTime))
	}
	// "Sign out that device":
	if len(infos) > 0 {
		store.Revoke(ctx, "user-42", infos[0].ID)
	}
	// "Log out everywhere":
	store.DestroyAll(ctx, "user-42")
}

// Session data is encrypted at rest by passing the codec package's AES-GCM
// wrapper as the Codec.
func ExampleOptions_encryption() {
	var client *typecache.Client // from typecache.NewClient

	key, err := base64.StdEncoding.DecodeString(os.Getenv("SESSION_KEY")) // 32 random bytes
	if err != nil {
		log.Fatal(err)
	}
	sealed, err := codec.Encrypt(codec.JSON[Profile](), codec.EncryptOptions{
		Keys:           []codec.EncryptionKey{{ID: 1, Secret: key}},
		AssociatedData: []byte("myapp/session/v1"),
	})
	if err != nil {
		log.Fatal(err)
	}
	store, err := session.New(client, session.Options[Profile]{Codec: sealed})
	if err != nil {
		log.Fatal(err)
	}
	_ = store
}

// Records are authenticated with HMAC-SHA-256 by passing IntegrityKeys:
// someone who can write to Redis can then neither mint a session nor change
// one (its owner, its data, its deadlines) without the store noticing.
func ExampleOptions_integrity() {
	var client *typecache.Client // from typecache.NewClient

	key, err := base64.StdEncoding.DecodeString(os.Getenv("SESSION_HMAC_KEY")) // 32 random bytes
	if err != nil {
		log.Fatal(err)
	}
	store, err := session.New(client, session.Options[Profile]{
		IntegrityKeys: [][]byte{key}, // rotate: new key first, old one kept for AbsoluteTimeout
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = store
}

// LogObserver writes the sessions' life cycle to a slog.Logger: who logged
// in, renewed, logged out or was logged out everywhere, and which tokens
// were turned away, with the public session ID and never a token.
func ExampleLogObserver() {
	var client *typecache.Client // from typecache.NewClient

	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	store, err := session.New(client, session.Options[Profile]{
		Observer: session.LogObserver(logger),
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = store
}

// Routes keyed from the application's configuration rather than from the
// key the deployment keeps in Redis: for Redis servers that may evict keys
// without a TTL (allkeys-* policies). Rotate in three deploys: the new key
// second, then first, then the old one dropped after AbsoluteTimeout.
func ExampleOptions_routeKeys() {
	var client *typecache.Client // from typecache.NewClient

	current, err := base64.StdEncoding.DecodeString(os.Getenv("SESSION_ROUTE_KEY")) // 32 random bytes
	if err != nil {
		log.Fatal(err)
	}
	store, err := session.New(client, session.Options[Profile]{
		RouteKeys: [][]byte{current},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = store
}

// While Redis is down, Middleware serves requests without their sessions
// (ServeAnonymous, the default). A page that needs a login tells "not
// logged in" from "the session is out of reach" with LoadError, and asks
// the user to come back rather than to log in again.
func ExampleStore_LoadError() {
	var store *session.Store[Profile] // from session.New

	account := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := store.Current(r.Context())
		switch err := store.LoadError(r.Context()); {
		case sess != nil:
			fmt.Fprintf(w, "hello %s", sess.Data.Name)
		case errors.Is(err, session.ErrUnavailable):
			w.Header().Set("Retry-After", "5")
			http.Error(w, "your account is briefly unavailable", http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, "try again", http.StatusInternalServerError)
		default:
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		}
	})
	http.Handle("/account", store.Middleware(account))
}

// A Store ends with Close, before the client it runs on; every call after
// it returns an error wrapping ErrClosed.
func ExampleStore_Close() {
	var client *typecache.Client // from typecache.NewClient

	store, err := session.New(client, session.Options[Profile]{})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	defer store.Close() // runs first: a Store ends before its client
	// ... serve requests through store.Middleware
}
