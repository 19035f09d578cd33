package bench

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

// sessionLifetime is the idle timeout of the sessions both stores create.
const sessionLifetime = 10 * time.Minute

// sessionStore is one contender's session store: Create returns a token that
// Get turns back into the session's User.
type sessionStore interface {
	Create(ctx context.Context, u User) (token string, err error)
	Get(ctx context.Context, token string) (User, error)
}

type sessionContender struct {
	name string
	open func(tb testing.TB, srv *benchServer) sessionStore
	// web builds the contender's idiomatic net/http middleware around the
	// handlers of the request workloads.
	web func(tb testing.TB, srv *benchServer) sessionWeb
}

var sessionContenders = []sessionContender{
	{"typecache", func(tb testing.TB, srv *benchServer) sessionStore {
		store, err := session.New(srv.typecacheClient(tb, true), session.Options[User]{
			IdleTimeout: sessionLifetime, Prefix: redistest.Name(tb),
		})
		if err != nil {
			tb.Fatalf("session.New: %v", err)
		}
		return typecacheSessions{store}
	}, typecacheWeb},
	{"scs-redisstore", func(tb testing.TB, srv *benchServer) sessionStore {
		manager := scs.New() // leaves a memstore cleanup goroutine behind: see TestMain
		manager.Store = redisstore.NewWithPrefix(srv.redigoPool(tb), redistest.Prefix(tb))
		manager.Lifetime = sessionLifetime
		return scsSessions{manager}
	}, scsWeb},
}

// typecacheSessions creates anonymous sessions: one round trip, like scs.
type typecacheSessions struct{ store *session.Store[User] }

func (s typecacheSessions) Create(ctx context.Context, u User) (string, error) {
	sess, err := s.store.Create(ctx, "", u)
	if err != nil {
		return "", err
	}
	return sess.Token, nil
}

func (s typecacheSessions) Get(ctx context.Context, token string) (User, error) {
	sess, err := s.store.Get(ctx, token)
	if err != nil {
		return User{}, err
	}
	return sess.Data, nil
}

// scsSessions keeps the User under one key of an scs session, stored with gob
// (scs's default codec) by redisstore through a redigo pool.
type scsSessions struct{ manager *scs.SessionManager }

const scsUserKey = "user"

func init() { gob.Register(User{}) } // scs stores values as interface{}

func (s scsSessions) Create(ctx context.Context, u User) (string, error) {
	ctx, err := s.manager.Load(ctx, "")
	if err != nil {
		return "", err
	}
	s.manager.Put(ctx, scsUserKey, u)
	token, _, err := s.manager.Commit(ctx)
	return token, err
}

func (s scsSessions) Get(ctx context.Context, token string) (User, error) {
	ctx, err := s.manager.Load(ctx, token)
	if err != nil {
		return User{}, err
	}
	u, ok := s.manager.Get(ctx, scsUserKey).(User)
	if !ok {
		return User{}, errors.New("scs: no user in the session")
	}
	return u, nil
}

// BenchmarkSession creates sessions and reads one back, through each
// store's API, without the middleware.
func BenchmarkSession(b *testing.B) {
	user := sampleUser(1)
	for _, call := range []struct {
		name string
		run  func(ctx context.Context, store sessionStore, token string) error
	}{
		{"create", func(ctx context.Context, store sessionStore, _ string) error {
			_, err := store.Create(ctx, user)
			return err
		}},
		{"get", func(ctx context.Context, store sessionStore, token string) error {
			_, err := store.Get(ctx, token)
			return err
		}},
	} {
		for _, c := range sessionContenders {
			b.Run(call.name+"/"+c.name, func(b *testing.B) {
				ctx := context.Background()
				srv := server(b)
				store := c.open(b, srv)
				token, err := store.Create(ctx, user)
				if err != nil {
					b.Fatalf("%s: Create: %v", c.name, err)
				}
				benchCallers(b, srv, workload{contender: c.name, prepare: sameOp(func(ctx context.Context) error {
					if err := call.run(ctx, store, token); err != nil {
						return fmt.Errorf("%s: %w", call.name, err)
					}
					return nil
				})})
			})
		}
	}
}

// TestSessionContenders checks that every session store returns the User it
// was created with, and nothing for a token it never issued.
func TestSessionContenders(t *testing.T) {
	for _, c := range sessionContenders {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			store := c.open(t, server(t))
			token, err := store.Create(ctx, sampleUser(3))
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			got, err := store.Get(ctx, token)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !equalUser(got, sampleUser(3)) {
				t.Errorf("Get returned %+v, want sampleUser(3)", got)
			}
			if _, err := store.Get(ctx, unknownToken(token)); err == nil {
				t.Error("Get of a token never issued succeeded")
			}
		})
	}
}

// unknownToken returns a well-formed token that differs from token.
func unknownToken(token string) string {
	last := token[len(token)-1]
	swap := byte('A')
	if last == 'A' {
		swap = 'B'
	}
	return fmt.Sprint(token[:len(token)-1], string(swap))
}

// webSession is what the request workloads keep in a session: three values
// (scs keeps them under three keys; typecache as one typed struct).
type webSession struct {
	Name   string
	Visits int
	Cart   []string
}

// sessionWeb is one contender's middleware with the handlers of the
// request workloads: read one value, modify one value, and start a session
// and put three values in it, all in one request. cookie is the name of the
// session cookie.
type sessionWeb struct {
	read, modify, create http.Handler
	cookie               string
}

func typecacheWeb(tb testing.TB, srv *benchServer) sessionWeb {
	store, err := session.New(srv.typecacheClient(tb, true), session.Options[webSession]{
		IdleTimeout: sessionLifetime, Prefix: redistest.Name(tb),
	})
	if err != nil {
		tb.Fatalf("session.New: %v", err)
	}
	tb.Cleanup(store.Close)
	return sessionWeb{
		cookie: "__Host-session",
		read: store.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, store.Current(r.Context()).Data.Name)
		})),
		modify: store.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			data := store.Current(r.Context()).Data
			data.Visits++
			if err := store.Put(r.Context(), data); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})),
		create: store.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, err := store.Start(r.Context(), "", webSession{})
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			data := sess.Data
			data.Name = "Ada"
			err = store.Put(r.Context(), data)
			data.Visits = 1
			err = errors.Join(err, store.Put(r.Context(), data))
			data.Cart = []string{"tea"}
			if err := errors.Join(err, store.Put(r.Context(), data)); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})),
	}
}

func scsWeb(tb testing.TB, srv *benchServer) sessionWeb {
	manager := scs.New()
	manager.Store = redisstore.NewWithPrefix(srv.redigoPool(tb), redistest.Prefix(tb))
	manager.Lifetime = sessionLifetime
	return sessionWeb{
		cookie: manager.Cookie.Name,
		read: manager.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, manager.GetString(r.Context(), "name"))
		})),
		modify: manager.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			manager.Put(r.Context(), "visits", manager.GetInt(r.Context(), "visits")+1)
		})),
		create: manager.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			manager.Put(r.Context(), "name", "Ada")
			manager.Put(r.Context(), "visits", 1)
			manager.Put(r.Context(), "cart", []string{"tea"})
		})),
	}
}

// serve runs one request through h with the session cookie (none when
// value is empty) and returns the response, or an error for a status other
// than 200.
func (web sessionWeb) serve(h http.Handler, value string) (*http.Response, error) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if value != "" {
		req.AddCookie(&http.Cookie{Name: web.cookie, Value: value})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", rec.Code, rec.Body)
	}
	return rec.Result(), nil
}

// start creates a session through the create handler and returns its
// cookie's value.
func (web sessionWeb) start() (string, error) {
	resp, err := web.serve(web.create, "")
	if err != nil {
		return "", err
	}
	for _, c := range resp.Cookies() {
		if c.Name == web.cookie {
			return c.Value, nil
		}
	}
	return "", errors.New("the create request set no session cookie")
}

// BenchmarkSessionRequest serves requests through each contender's
// middleware: "read" reads one value of an existing session, "modify"
// changes one, "create" starts a session and puts three values in it. Each
// caller reads and modifies a session of its own, as each visitor of a site
// does.
func BenchmarkSessionRequest(b *testing.B) {
	for _, request := range []string{"read", "modify", "create"} {
		for _, c := range sessionContenders {
			b.Run(request+"/"+c.name, func(b *testing.B) {
				srv := server(b)
				web := c.web(b, srv)
				h := map[string]http.Handler{"read": web.read, "modify": web.modify, "create": web.create}[request]
				benchCallers(b, srv, workload{contender: c.name, prepare: func(tb testing.TB, _ int) op {
					cookie := ""
					if request != "create" {
						var err error
						if cookie, err = web.start(); err != nil {
							tb.Fatalf("%s: %v", c.name, err)
						}
					}
					if _, err := web.serve(h, cookie); err != nil { // warm: scripts loaded, session read once
						tb.Fatalf("%s: %s: %v", c.name, request, err)
					}
					return func(context.Context) error {
						if _, err := web.serve(h, cookie); err != nil {
							return fmt.Errorf("%s: %w", request, err)
						}
						return nil
					}
				}})
			})
		}
	}
}

// TestSessionRequestContenders checks each contender's request workloads:
// a created session holds the three values, a modification is read back.
func TestSessionRequestContenders(t *testing.T) {
	for _, c := range sessionContenders {
		t.Run(c.name, func(t *testing.T) {
			web := c.web(t, server(t))
			cookie, err := web.start()
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range []http.Handler{web.modify, web.read} {
				if _, err := web.serve(h, cookie); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := web.serve(web.read, cookie)
			if err != nil {
				t.Fatal(err)
			}
			if body, _ := io.ReadAll(resp.Body); string(body) != "Ada" {
				t.Errorf("read = %q, want Ada", body)
			}
		})
	}
}
