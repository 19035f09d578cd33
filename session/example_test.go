package session_test

import (
	"context"
	"fmt"
	"log"
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

func ExampleNew() {
	client, err := typecache.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	store, err := session.New(client, session.Options[Profile]{
		IdleTimeout:     15 * time.Minute,
		AbsoluteTimeout: 8 * time.Hour,
		Cookie:          session.CookieOptions{HostPrefix: true},
	})
	if err != nil {
		log.Fatal(err)
	}
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
		// the browser brought is destroyed (fixation defence).
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

	key := []byte(os.Getenv("SESSION_KEY")) // 32 random bytes
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
