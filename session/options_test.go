package session_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/session"
)

func TestNewRejectsBadOptions(t *testing.T) {
	client := redistest.Standalone(t).Client(t)
	for _, c := range []struct {
		name  string
		opts  session.Options[cart]
		field string
	}{
		{"negative idle", session.Options[cart]{IdleTimeout: -time.Second}, "Options.IdleTimeout"},
		{"sub-millisecond idle", session.Options[cart]{IdleTimeout: time.Microsecond}, "Options.IdleTimeout"},
		{"absolute below idle", session.Options[cart]{IdleTimeout: time.Hour, AbsoluteTimeout: time.Minute}, "Options.AbsoluteTimeout"},
		{"absolute below default idle", session.Options[cart]{AbsoluteTimeout: time.Minute}, "Options.AbsoluteTimeout"},
		{"negative touch", session.Options[cart]{TouchThreshold: -1}, "Options.TouchThreshold"},
		{"sub-millisecond touch", session.Options[cart]{TouchThreshold: time.Microsecond}, "Options.TouchThreshold"},
		{"touch not below idle", session.Options[cart]{IdleTimeout: time.Minute, TouchThreshold: time.Minute}, "Options.TouchThreshold"},
		{"brace in prefix", session.Options[cart]{Prefix: "app{1}"}, "Options.Prefix"},
		{"colon in prefix", session.Options[cart]{Prefix: "app:"}, "Options.Prefix"},
		{"long prefix", session.Options[cart]{Prefix: strings.Repeat("a", 101)}, "Options.Prefix"},
		{"short integrity key", session.Options[cart]{IntegrityKeys: [][]byte{bytes.Repeat([]byte{1}, 32), make([]byte, 31)}}, "Options.IntegrityKeys[1]"},
		{"short route key", session.Options[cart]{RouteKeys: [][]byte{bytes.Repeat([]byte{1}, 32), make([]byte, 16)}}, "Options.RouteKeys[1]"},
		{"unknown failure mode", session.Options[cart]{FailureMode: 7}, "Options.FailureMode"},
		{"negative local sessions", session.Options[cart]{MaxLocalSessions: -1}, "Options.MaxLocalSessions"},
		{"SameSite default mode", session.Options[cart]{Cookie: session.CookieOptions{SameSite: http.SameSiteDefaultMode}}, "Options.Cookie.SameSite"},
		{"SameSite None without Secure", session.Options[cart]{Cookie: session.CookieOptions{SameSite: http.SameSiteNoneMode, Insecure: true}}, "Options.Cookie.SameSite"},
		{"bad cookie name", session.Options[cart]{Cookie: session.CookieOptions{Name: "a b"}}, "Options.Cookie"},
		{"bad previous name", session.Options[cart]{Cookie: session.CookieOptions{PreviousName: "a;b"}}, "Options.Cookie"},
		{"previous name is the name", session.Options[cart]{Cookie: session.CookieOptions{NoHostPrefix: true, PreviousName: "session"}}, "Options.Cookie.PreviousName"},
		{"bad cookie path", session.Options[cart]{Cookie: session.CookieOptions{Path: "/a;b"}}, "Options.Cookie"},
		{"__Host- with Domain", session.Options[cart]{Cookie: session.CookieOptions{HostPrefix: true, Domain: "example.com"}}, "Options.Cookie.HostPrefix"},
		{"__Host- with Path", session.Options[cart]{Cookie: session.CookieOptions{HostPrefix: true, Path: "/app"}}, "Options.Cookie.HostPrefix"},
		{"__Host- without Secure", session.Options[cart]{Cookie: session.CookieOptions{HostPrefix: true, Insecure: true}}, "Options.Cookie.HostPrefix"},
		{"__Host- by name", session.Options[cart]{Cookie: session.CookieOptions{Name: "__Host-s", Domain: "example.com"}}, "Options.Cookie.HostPrefix"},
		{"__Host- insisted and refused", session.Options[cart]{Cookie: session.CookieOptions{HostPrefix: true, NoHostPrefix: true}}, "Options.Cookie.HostPrefix"},
		{"__Secure- without Secure", session.Options[cart]{Cookie: session.CookieOptions{Name: "__Secure-s", Insecure: true}}, "Options.Cookie.Name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := session.New(client, c.opts)
			if !errors.Is(err, session.ErrInvalidOptions) || !strings.Contains(err.Error(), c.field) {
				t.Errorf("New = %v, want ErrInvalidOptions naming %s", err, c.field)
			}
		})
	}
	_, err := session.New[cart](nil, session.Options[cart]{})
	if !errors.Is(err, session.ErrInvalidOptions) || !strings.Contains(err.Error(), "*typecache.Client") {
		t.Errorf("New(nil client) = %v, want ErrInvalidOptions naming the client", err)
	}
}

func TestNewDefaultsLeaveOptionsAlone(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	opts := session.Options[cart]{Cookie: session.CookieOptions{HostPrefix: true}, IntegrityKeys: [][]byte{key}}
	s, err := session.New(redistest.Standalone(t).Client(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if opts.Cookie.Name != "" || opts.IdleTimeout != 0 || opts.Codec != nil || opts.Prefix != "" || opts.Observer != nil {
		t.Errorf("New modified the caller's options: %+v", opts)
	}
	key[0] = 8 // the store keeps its own copy of the keys
	if got := session.Sign(s, "id", "u", nil, 1, 2, 3); got != session.Sign(mustStore(t, [][]byte{bytes.Repeat([]byte{7}, 32)}), "id", "u", nil, 1, 2, 3) {
		t.Error("the store signs with the caller's key slice, which the caller changed")
	}
}

func mustStore(t *testing.T, keys [][]byte) *session.Store[cart] {
	t.Helper()
	return newStore(t, redistest.Standalone(t), session.Options[cart]{IntegrityKeys: keys})
}
