package session_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/redistest"
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
		{"touch not below idle", session.Options[cart]{IdleTimeout: time.Minute, TouchThreshold: time.Minute}, "Options.TouchThreshold"},
		{"brace in prefix", session.Options[cart]{Prefix: "app{1}:"}, "Options.Prefix"},
		{"SameSite default mode", session.Options[cart]{Cookie: session.CookieOptions{SameSite: http.SameSiteDefaultMode}}, "Options.Cookie.SameSite"},
		{"SameSite None without Secure", session.Options[cart]{Cookie: session.CookieOptions{SameSite: http.SameSiteNoneMode, Insecure: true}}, "Options.Cookie.SameSite"},
		{"bad cookie name", session.Options[cart]{Cookie: session.CookieOptions{Name: "a b"}}, "Options.Cookie"},
		{"bad cookie path", session.Options[cart]{Cookie: session.CookieOptions{Path: "/a;b"}}, "Options.Cookie"},
		{"__Host- with Domain", session.Options[cart]{Cookie: session.CookieOptions{HostPrefix: true, Domain: "example.com"}}, "Options.Cookie.HostPrefix"},
		{"__Host- with Path", session.Options[cart]{Cookie: session.CookieOptions{HostPrefix: true, Path: "/app"}}, "Options.Cookie.HostPrefix"},
		{"__Host- without Secure", session.Options[cart]{Cookie: session.CookieOptions{HostPrefix: true, Insecure: true}}, "Options.Cookie.HostPrefix"},
		{"__Host- by name", session.Options[cart]{Cookie: session.CookieOptions{Name: "__Host-s", Domain: "example.com"}}, "Options.Cookie.HostPrefix"},
		{"__Secure- without Secure", session.Options[cart]{Cookie: session.CookieOptions{Name: "__Secure-s", Insecure: true}}, "Options.Cookie.Name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			_, err := session.New(client, opts)
			if err == nil || !strings.HasPrefix(err.Error(), "session: "+c.field) {
				t.Errorf("New = %v, want an error naming %s", err, c.field)
			}
		})
	}
	if _, err := session.New[cart](nil, session.Options[cart]{}); err == nil {
		t.Error("New(nil client) succeeded")
	}
}

func TestNewDefaultsLeaveOptionsAlone(t *testing.T) {
	opts := session.Options[cart]{Cookie: session.CookieOptions{HostPrefix: true}}
	if _, err := session.New(redistest.Standalone(t).Client(t), opts); err != nil {
		t.Fatal(err)
	}
	if opts.Cookie.Name != "" || opts.IdleTimeout != 0 || opts.Codec != nil {
		t.Errorf("New modified the caller's options: %+v", opts)
	}
}
