package bench

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"

	"github.com/typecache/typecache/internal/redistest"
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
}

var sessionContenders = []sessionContender{
	{"typecache", func(tb testing.TB, srv *benchServer) sessionStore {
		store, err := session.New(srv.typecacheClient(tb, true), session.Options[User]{
			IdleTimeout: sessionLifetime, Prefix: redistest.Prefix(tb),
		})
		if err != nil {
			tb.Fatalf("session.New: %v", err)
		}
		return typecacheSessions{store}
	}},
	{"scs-redisstore", func(tb testing.TB, srv *benchServer) sessionStore {
		manager := scs.New() // leaves a memstore cleanup goroutine behind: see TestMain
		manager.Store = redisstore.NewWithPrefix(srv.redigoPool(tb), redistest.Prefix(tb))
		manager.Lifetime = sessionLifetime
		return scsSessions{manager}
	}},
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

// BenchmarkSession creates sessions and reads one back, from
// parallelism×GOMAXPROCS goroutines, as a web server's handlers would.
func BenchmarkSession(b *testing.B) {
	user := sampleUser(1)
	for _, op := range []struct {
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
			b.Run(op.name+"/"+c.name, func(b *testing.B) {
				ctx := context.Background()
				store := c.open(b, server(b))
				token, err := store.Create(ctx, user)
				if err != nil {
					b.Fatalf("%s: Create: %v", c.name, err)
				}
				b.ReportAllocs()
				b.SetParallelism(parallelism)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := op.run(ctx, store, token); err != nil {
							b.Errorf("%s: %s: %v", c.name, op.name, err)
							return
						}
					}
				})
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
