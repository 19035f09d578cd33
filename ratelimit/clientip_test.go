package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/ratelimit"
)

var testProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}

func TestClientIP(t *testing.T) {
	xff := ratelimit.ClientIPSource{Header: "X-Forwarded-For", TrustedProxies: testProxies}
	realIP := ratelimit.ClientIPSource{Header: "X-Real-IP", TrustedProxies: testProxies}
	tests := []struct {
		name   string
		src    ratelimit.ClientIPSource
		remote string
		xff    []string
		realIP string
		want   string
	}{
		{"direct", xff, "198.51.100.1:1234", nil, "", "198.51.100.1"},
		{"untrusted sender's headers ignored", xff, "198.51.100.1:1234", []string{"1.1.1.1"}, "2.2.2.2", "198.51.100.1"},
		{"zero source: headers ignored", ratelimit.ClientIPSource{}, "10.0.0.1:80", []string{"1.1.1.1"}, "2.2.2.2", "10.0.0.1"},
		{"header without proxies: ignored", ratelimit.ClientIPSource{Header: "X-Forwarded-For"}, "10.0.0.1:80", []string{"1.1.1.1"}, "", "10.0.0.1"},
		{"one proxy", xff, "10.0.0.1:80", []string{"203.0.113.9"}, "", "203.0.113.9"},
		{"spoofed left entries skipped", xff, "10.0.0.1:80", []string{"6.6.6.6, 203.0.113.9"}, "", "203.0.113.9"},
		{"proxy chain", xff, "10.0.0.1:80", []string{"6.6.6.6, 203.0.113.9, 10.1.2.3", "10.9.9.9"}, "", "203.0.113.9"},
		{"all trusted: leftmost", xff, "10.0.0.1:80", []string{"10.0.0.5, 10.0.0.6"}, "", "10.0.0.5"},
		{"x-forwarded-for missing: the proxy, not x-real-ip", xff, "10.0.0.1:80", nil, "203.0.113.4", "10.0.0.1"},
		{"x-real-ip", realIP, "10.0.0.1:80", nil, " 203.0.113.4 ", "203.0.113.4"},
		{"x-real-ip, the client's x-forwarded-for passed through", realIP, "10.0.0.1:80", []string{"6.6.6.6"}, "203.0.113.4", "203.0.113.4"},
		{"x-real-ip missing: the proxy, not x-forwarded-for", realIP, "10.0.0.1:80", []string{"6.6.6.6"}, "", "10.0.0.1"},
		{"unparsable x-real-ip: as the proxy wrote it", realIP, "10.0.0.1:80", nil, "nonsense", "nonsense"},
		{"header name in any case", ratelimit.ClientIPSource{Header: "x-real-ip", TrustedProxies: testProxies}, "10.0.0.1:80", nil, "203.0.113.4", "203.0.113.4"},
		{"ipv6 remote", xff, "[2001:db9::1]:443", nil, "", "2001:db9::1"},
		{"ipv6 proxy, v4 client with port", xff, "[2001:db8::1]:443", []string{"203.0.113.9:5555"}, "", "203.0.113.9"},
		{"ipv6 client in brackets", xff, "10.0.0.1:80", []string{"[2001:db9::7]:1"}, "", "2001:db9::7"},
		{"ipv4-mapped ipv6 remote", xff, "[::ffff:198.51.100.1]:1", nil, "", "198.51.100.1"},
		{"ipv4-mapped ipv6 entry", xff, "10.0.0.1:80", []string{"::ffff:203.0.113.9"}, "", "203.0.113.9"},
		{"obfuscated entry", xff, "10.0.0.1:80", []string{"unknown"}, "", "unknown"},
		{"empty entry: the hop to its right", xff, "10.0.0.1:80", []string{"6.6.6.6, , 10.0.0.2"}, "", "10.0.0.2"},
		{"empty header", xff, "10.0.0.1:80", []string{""}, "", "10.0.0.1"},
		{"remote without port", xff, "198.51.100.1", nil, "", "198.51.100.1"},
		{"unparsable remote", xff, "pipe", nil, "", "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.realIP != "" {
				r.Header.Set("X-Real-IP", tt.realIP)
			}
			if got := ratelimit.ClientIP(r, tt.src); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClientKey(t *testing.T) {
	xff := ratelimit.ClientIPSource{Header: "X-Forwarded-For", TrustedProxies: testProxies}
	tests := []struct {
		name   string
		remote string
		xff    string
		bits   int
		want   string
	}{
		{"ipv6 by /64", "[2001:db9:1:2:3:4:5:6]:443", "", 64, "2001:db9:1:2::/64"},
		{"0 bits: /64", "[2001:db9:1:2:3:4:5:6]:443", "", 0, "2001:db9:1:2::/64"},
		{"out of range: /64", "[2001:db9:1:2:3:4:5:6]:443", "", 129, "2001:db9:1:2::/64"},
		{"ipv6 by /48", "[2001:db9:1:2:3:4:5:6]:443", "", 48, "2001:db9:1::/48"},
		{"ipv6 whole", "[2001:db9:1:2:3:4:5:6]:443", "", 128, "2001:db9:1:2:3:4:5:6"},
		{"ipv6 from the header", "10.0.0.1:80", "2001:db9:7:7::1", 64, "2001:db9:7:7::/64"},
		{"ipv4", "198.51.100.7:1", "", 64, "198.51.100.7"},
		{"ipv4-mapped", "[::ffff:198.51.100.7]:1", "", 64, "198.51.100.7"},
		{"not an address", "10.0.0.1:80", "unknown", 64, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := ratelimit.ClientKey(r, xff, tt.bits); got != tt.want {
				t.Fatalf("ClientKey = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzClientIP: whatever the headers, the key is never empty, and the
// headers matter only when the connection comes from a trusted proxy.
func FuzzClientIP(f *testing.F) {
	for _, seed := range []struct{ remote, xff, realIP string }{
		{"10.0.0.1:80", "203.0.113.9", ""},
		{"10.0.0.1:80", "6.6.6.6, 203.0.113.9, 10.1.2.3", ""},
		{"10.0.0.1:80", ", , ,", "1.2.3.4"},
		{"[2001:db8::1]:443", "[2001:db9::7]:1,unknown", ""},
		{"198.51.100.1:1", "1.1.1.1", "2.2.2.2"},
		{"", "", ""},
	} {
		f.Add(seed.remote, seed.xff, seed.realIP)
	}
	f.Fuzz(func(t *testing.T, remote, xff, realIP string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("X-Real-IP", realIP)
		direct := ratelimit.ClientIP(&http.Request{RemoteAddr: remote}, ratelimit.ClientIPSource{})
		addr, err := netip.ParseAddr(direct)
		fromProxy := err == nil && (testProxies[0].Contains(addr) || testProxies[1].Contains(addr))
		for _, header := range []string{"X-Forwarded-For", "X-Real-IP"} {
			got := ratelimit.ClientIP(r, ratelimit.ClientIPSource{Header: header, TrustedProxies: testProxies})
			if got == "" && remote != "" {
				t.Fatalf("%s: empty key for remote %q, XFF %q, X-Real-IP %q", header, remote, xff, realIP)
			}
			if !fromProxy && got != direct {
				t.Fatalf("%s: untrusted sender %q: key %q, want %q whatever its headers", header, remote, got, direct)
			}
		}
		if got := ratelimit.ClientIP(r, ratelimit.ClientIPSource{}); got != direct {
			t.Fatalf("zero source: key %q, want %q whatever the headers", got, direct)
		}
	})
}

// admitted sends one request per remote address through h, with the
// headers of headers(i) when headers is not nil, and counts the 200s.
func admitted(h http.Handler, remotes []string, headers func(i int) http.Header) int {
	n := 0
	for i, remote := range remotes {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if headers != nil {
			r.Header = headers(i)
		}
		if serve(h, r).StatusCode == http.StatusOK {
			n++
		}
	}
	return n
}

// TestMiddlewareGroupsIPv6ByNetwork is the attack of a client that owns a
// /64, as every residential IPv6 line does: a fresh source address per
// request used to get a fresh limit each. The default key now counts the
// whole /64 as one client (IPv6PrefixBits chooses another size), and an
// IPv4-mapped address counts as its IPv4 address.
func TestMiddlewareGroupsIPv6ByNetwork(t *testing.T) {
	const limit = 3
	// many returns 20 remote addresses, format's %x replaced by 1 to 20
	many := func(format string) []string {
		remotes := make([]string, 20)
		for i := range remotes {
			remotes[i] = "[" + fmt.Sprintf(format, i+1) + "]:443"
			if _, err := netip.ParseAddrPort(remotes[i]); err != nil {
				panic(err)
			}
		}
		return remotes
	}
	tests := []struct {
		name    string
		bits    int
		remotes []string
		want    int
	}{
		{"20 addresses of one /64", 0, many("2001:db8:1:2::%x"), limit},
		{"20 addresses of one /56, by /56", 56, many("2001:db8:1:%x::1"), limit},
		{"20 addresses of one /64, by address", 128, many("2001:db8:1:2::%x"), 20},
		{"20 different /64s", 0, many("2001:db8:1:%x::1"), 20},
		{"an IPv4 address, also IPv4-mapped", 0, []string{"198.51.100.7:1", "[::ffff:198.51.100.7]:2", "198.51.100.7:3", "[::ffff:198.51.100.7]:4"}, limit},
	}
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l := newLimiter(t, srv, ratelimit.Options{Algorithm: ratelimit.FixedWindow, Limit: limit, Period: time.Hour})
				h := handler(t, l, ratelimit.MiddlewareOptions{IPv6PrefixBits: tt.bits})
				if got := admitted(h, tt.remotes, nil); got != tt.want {
					t.Fatalf("%d of %d requests admitted, want %d", got, len(tt.remotes), tt.want)
				}
			})
		}
	})
}

// TestMiddlewareHeaderTrust is the attack of a client behind an nginx that
// sets X-Real-IP and passes the client's own X-Forwarded-For through: the
// client wrote a fresh X-Forwarded-For on every request, and since that
// header used to win over X-Real-IP, every request had a fresh limit. With
// the client-IP source an explicit choice, only the named header is read.
func TestMiddlewareHeaderTrust(t *testing.T) {
	const limit = 3
	remotes := make([]string, 20)
	for i := range remotes {
		remotes[i] = "10.0.0.1:80" // nginx
	}
	// the client's address, 198.51.100.7, as nginx sets it in X-Real-IP
	// and appends it to X-Forwarded-For; the client writes a fresh
	// X-Forwarded-For entry of its own on each request
	nginx := func(realIP, appendXFF bool) func(i int) http.Header {
		return func(i int) http.Header {
			h := http.Header{}
			h.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i))
			if appendXFF {
				h.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i)+", 198.51.100.7")
			}
			if realIP {
				h.Set("X-Real-IP", "198.51.100.7")
			}
			return h
		}
	}
	tests := []struct {
		name    string
		src     ratelimit.ClientIPSource
		headers func(i int) http.Header
	}{
		{"x-real-ip named, the client's x-forwarded-for passed through", ratelimit.ClientIPSource{Header: "X-Real-IP", TrustedProxies: testProxies}, nginx(true, false)},
		{"x-forwarded-for named and appended to", ratelimit.ClientIPSource{Header: "X-Forwarded-For", TrustedProxies: testProxies}, nginx(false, true)},
		{"no header named", ratelimit.ClientIPSource{}, nginx(true, false)},
	}
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l := newLimiter(t, srv, ratelimit.Options{Algorithm: ratelimit.FixedWindow, Limit: limit, Period: time.Hour})
				h := handler(t, l, ratelimit.MiddlewareOptions{ClientIP: tt.src})
				if got := admitted(h, remotes, tt.headers); got != limit {
					t.Fatalf("%d of %d requests admitted, want %d", got, len(remotes), limit)
				}
			})
		}
	})
}
