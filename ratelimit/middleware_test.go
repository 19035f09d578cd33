package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/redistest"
	"github.com/typecache/typecache/internal/testclock"
	"github.com/typecache/typecache/ratelimit"
)

// sfItem is one member of a Structured Fields list whose items are strings
// with integer parameters, the shape of RateLimit-Policy and RateLimit.
type sfItem struct {
	name   string
	params map[string]int64
}

// parseSFList parses s strictly as an RFC 9651 List of String items with
// Integer parameters, and fails on anything else.
func parseSFList(s string) ([]sfItem, error) {
	var items []sfItem
	rest := strings.TrimLeft(s, " ")
	for {
		name, after, err := parseSFString(rest)
		if err != nil {
			return nil, err
		}
		item := sfItem{name: name, params: map[string]int64{}}
		rest = after
		for strings.HasPrefix(rest, ";") {
			rest = strings.TrimLeft(rest[1:], " ")
			k := 0
			for k < len(rest) && (rest[k] >= 'a' && rest[k] <= 'z' || k > 0 && (rest[k] >= '0' && rest[k] <= '9' || strings.IndexByte("_-.*", rest[k]) >= 0) || rest[k] == '*') {
				k++
			}
			if k == 0 || k >= len(rest) || rest[k] != '=' {
				return nil, fmt.Errorf("bad parameter in %q", s)
			}
			key := rest[:k]
			rest = rest[k+1:]
			d := 0
			if strings.HasPrefix(rest, "-") {
				d = 1
			}
			for d < len(rest) && rest[d] >= '0' && rest[d] <= '9' {
				d++
			}
			v, err := strconv.ParseInt(rest[:d], 10, 64)
			if err != nil || d > 15 {
				return nil, fmt.Errorf("parameter %s of %q is not an sf-integer", key, s)
			}
			if _, dup := item.params[key]; dup {
				return nil, fmt.Errorf("duplicate parameter %s in %q", key, s)
			}
			item.params[key] = v
			rest = rest[d:]
		}
		items = append(items, item)
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return items, nil
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("junk %q in %q", rest, s)
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		if rest == "" {
			return nil, fmt.Errorf("trailing comma in %q", s)
		}
	}
}

func parseSFString(s string) (value, rest string, err error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("%q does not start with an sf-string", s)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 == len(s) || s[i+1] != '"' && s[i+1] != '\\' {
				return "", "", fmt.Errorf("bad escape in %q", s)
			}
			i++
			b.WriteByte(s[i])
		case c == '"':
			return b.String(), s[i+1:], nil
		case c < 0x20 || c > 0x7e:
			return "", "", fmt.Errorf("non-printable byte in %q", s)
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated sf-string %q", s)
}

// rateLimitFields parses the two fields of a response; the RateLimit field
// may be absent (fallback decisions).
func rateLimitFields(t *testing.T, h http.Header) (policy sfItem, state *sfItem) {
	t.Helper()
	items, err := parseSFList(h.Get("RateLimit-Policy"))
	if err != nil || len(items) != 1 {
		t.Fatalf("RateLimit-Policy %q: %v", h.Get("RateLimit-Policy"), err)
	}
	if h.Get("RateLimit") == "" {
		return items[0], nil
	}
	states, err := parseSFList(h.Get("RateLimit"))
	if err != nil || len(states) != 1 {
		t.Fatalf("RateLimit %q: %v", h.Get("RateLimit"), err)
	}
	return items[0], &states[0]
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

func serve(h http.Handler, r *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Result()
}

func TestMiddlewareHeaders(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		l := newLimiter(t, srv, ratelimit.Options{Algorithm: ratelimit.FixedWindow, Limit: 3, Period: time.Minute})
		clock := testclock.New(epoch)
		ratelimit.SetClock(l, clock.Now)
		h := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{})(okHandler)
		steps := []struct {
			at         time.Duration
			status     int
			r, t       int64
			retryAfter string
		}{
			{0, 200, 2, 60, ""},
			{time.Second, 200, 1, 59, ""},
			{time.Second, 200, 0, 59, ""},
			{20*time.Second + 500*time.Millisecond, 429, 0, 40, "40"}, // 39.5 s, rounded up
			{59 * time.Second, 429, 0, 1, "1"},
			{60 * time.Second, 200, 2, 60, ""},
		}
		for i, st := range steps {
			clock.Set(epoch.Add(st.at))
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = "192.0.2.7:4711"
			resp := serve(h, req)
			body, _ := io.ReadAll(resp.Body)
			policy, state := rateLimitFields(t, resp.Header)
			if resp.StatusCode != st.status || state == nil ||
				policy.name != "default" || policy.params["q"] != 3 || policy.params["w"] != 60 || len(policy.params) != 2 ||
				state.name != "default" || state.params["r"] != st.r || state.params["t"] != st.t || len(state.params) != 2 ||
				resp.Header.Get("Retry-After") != st.retryAfter {
				t.Fatalf("step %d: %d %v %q", i, resp.StatusCode, resp.Header, body)
			}
			if st.status == 429 && !strings.Contains(string(body), "rate limit exceeded, retry in "+st.retryAfter+" s") {
				t.Fatalf("step %d: 429 body %q", i, body)
			}
			if st.status == 200 && string(body) != "ok" {
				t.Fatalf("step %d: body %q, want the next handler's", i, body)
			}
		}
	})
}

func TestMiddlewarePolicyName(t *testing.T) {
	l := newLimiter(t, redistest.Standalone(t), ratelimit.Options{Limit: 5, Burst: 2, Period: 1500 * time.Millisecond})
	h := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{PolicyName: `api "v1" \ beta`})(okHandler)
	resp := serve(h, httptest.NewRequest("GET", "/", nil))
	policy, state := rateLimitFields(t, resp.Header)
	// q is the limit, also for GCRA; w is the period rounded up to whole
	// seconds; r counts from the burst
	if policy.name != `api "v1" \ beta` || state.name != policy.name || policy.params["q"] != 5 || policy.params["w"] != 2 || state.params["r"] != 1 {
		t.Fatalf("policy %+v, state %+v from %v", policy, state, resp.Header)
	}
}

func TestMiddlewarePanicsOnInvalidOptions(t *testing.T) {
	l := newLimiter(t, redistest.Standalone(t), ratelimit.Options{Limit: 5, Period: time.Second})
	tests := []struct {
		name string
		l    *ratelimit.Limiter
		opts ratelimit.MiddlewareOptions
	}{
		{"nil limiter", nil, ratelimit.MiddlewareOptions{}},
		{"invalid proxy prefix", l, ratelimit.MiddlewareOptions{TrustedProxies: []netip.Prefix{{}}}},
		{"non-ASCII policy name", l, ratelimit.MiddlewareOptions{PolicyName: "débit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "ratelimit: ") {
					t.Fatalf("recovered %v, want a ratelimit panic", r)
				}
			}()
			ratelimit.Middleware(tt.l, tt.opts)
		})
	}
}

func TestMiddlewareKeyAndCost(t *testing.T) {
	l := newLimiter(t, redistest.Standalone(t), ratelimit.Options{Algorithm: ratelimit.FixedWindow, Limit: 4, Period: time.Hour})
	var handled error
	h := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{
		Key: func(r *http.Request) string { return r.Header.Get("X-API-Key") },
		Cost: func(r *http.Request) int {
			switch r.URL.Path {
			case "/health":
				return 0
			case "/export":
				return 3
			case "/huge":
				return 5
			}
			return 1
		},
		DenyHandler: func(w http.ResponseWriter, r *http.Request, res ratelimit.Result) {
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprintf(w, "remaining %d", res.Remaining)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			handled = err
			w.WriteHeader(http.StatusBadRequest)
		},
	})(okHandler)
	request := func(path, apiKey string) (*http.Response, string) {
		req := httptest.NewRequest("GET", path, nil)
		if apiKey != "" {
			req.Header.Set("X-API-Key", apiKey)
		}
		resp := serve(h, req)
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	steps := []struct {
		path, key string
		status    int
		body      string
		counted   bool
	}{
		{"/export", "alice", 200, "ok", true},
		{"/export", "alice", 429, "remaining 1", true}, // cost 3 > 1 left
		{"/", "alice", 200, "ok", true},
		{"/", "alice", 429, "remaining 0", true},
		{"/", "bob", 200, "ok", true}, // another key, its own quota
		{"/health", "alice", 200, "ok", false},
		{"/", "", 200, "ok", false}, // no key: not counted
	}
	for i, st := range steps {
		resp, body := request(st.path, st.key)
		if resp.StatusCode != st.status || body != st.body || (resp.Header.Get("RateLimit") != "") != st.counted {
			t.Fatalf("step %d %s as %q: %d %q %v", i, st.path, st.key, resp.StatusCode, body, resp.Header)
		}
	}
	if resp, _ := request("/huge", "carol"); resp.StatusCode != http.StatusBadRequest || !errors.Is(handled, ratelimit.ErrCostExceedsLimit) {
		t.Fatalf("cost above the limit: %d, error handler got %v", resp.StatusCode, handled)
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		realIP  string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "198.51.100.1:1234", nil, "", proxies, "198.51.100.1"},
		{"untrusted sender's headers ignored", "198.51.100.1:1234", []string{"1.1.1.1"}, "2.2.2.2", proxies, "198.51.100.1"},
		{"no trusted proxies: headers ignored", "10.0.0.1:80", []string{"1.1.1.1"}, "", nil, "10.0.0.1"},
		{"one proxy", "10.0.0.1:80", []string{"203.0.113.9"}, "", proxies, "203.0.113.9"},
		{"spoofed left entries skipped", "10.0.0.1:80", []string{"6.6.6.6, 203.0.113.9"}, "", proxies, "203.0.113.9"},
		{"proxy chain", "10.0.0.1:80", []string{"6.6.6.6, 203.0.113.9, 10.1.2.3", "10.9.9.9"}, "", proxies, "203.0.113.9"},
		{"all trusted: leftmost", "10.0.0.1:80", []string{"10.0.0.5, 10.0.0.6"}, "", proxies, "10.0.0.5"},
		{"x-real-ip", "10.0.0.1:80", nil, " 203.0.113.4 ", proxies, "203.0.113.4"},
		{"bad x-real-ip", "10.0.0.1:80", nil, "nonsense", proxies, "10.0.0.1"},
		{"ipv6 remote", "[2001:db9::1]:443", nil, "", proxies, "2001:db9::1"},
		{"ipv6 proxy, v4 client with port", "[2001:db8::1]:443", []string{"203.0.113.9:5555"}, "", proxies, "203.0.113.9"},
		{"ipv6 client in brackets", "10.0.0.1:80", []string{"[2001:db9::7]:1"}, "", proxies, "2001:db9::7"},
		{"ipv4-mapped ipv6", "[::ffff:198.51.100.1]:1", nil, "", proxies, "198.51.100.1"},
		{"obfuscated entry", "10.0.0.1:80", []string{"unknown"}, "", proxies, "unknown"},
		{"empty entry: the hop to its right", "10.0.0.1:80", []string{"6.6.6.6, , 10.0.0.2"}, "", proxies, "10.0.0.2"},
		{"empty header", "10.0.0.1:80", []string{""}, "", proxies, "10.0.0.1"},
		{"remote without port", "198.51.100.1", nil, "", proxies, "198.51.100.1"},
		{"unparsable remote", "pipe", nil, "", proxies, "pipe"},
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
			if got := ratelimit.ClientIP(r, tt.trusted); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
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
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	f.Fuzz(func(t *testing.T, remote, xff, realIP string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("X-Real-IP", realIP)
		got := ratelimit.ClientIP(r, proxies)
		if got == "" && remote != "" {
			t.Fatalf("empty key for remote %q, XFF %q", remote, xff)
		}
		direct := ratelimit.ClientIP(&http.Request{RemoteAddr: remote}, proxies)
		if addr, err := netip.ParseAddr(direct); (err != nil || !proxies[0].Contains(addr) && !proxies[1].Contains(addr)) && got != direct {
			t.Fatalf("untrusted sender %q: key %q, want %q whatever its headers", remote, got, direct)
		}
	})
}

// TestMiddlewareRedisDown stops a private server and checks both failure
// modes at the HTTP level.
func TestMiddlewareRedisDown(t *testing.T) {
	srv := redistest.NewStandalone(t)
	handlers := map[ratelimit.FailureMode]http.Handler{}
	for _, mode := range []ratelimit.FailureMode{ratelimit.FailOpen, ratelimit.FailClosed} {
		l := newLimiter(t, srv, ratelimit.Options{Limit: 10, Period: time.Minute, FailureMode: mode})
		handlers[mode] = ratelimit.Middleware(l, ratelimit.MiddlewareOptions{})(okHandler)
		if resp := serve(handlers[mode], httptest.NewRequest("GET", "/", nil)); resp.StatusCode != 200 || resp.Header.Get("RateLimit") == "" {
			t.Fatalf("mode %d with Redis up: %d %v", mode, resp.StatusCode, resp.Header)
		}
	}
	srv.Masters()[0].Stop()
	open := serve(handlers[ratelimit.FailOpen], httptest.NewRequest("GET", "/", nil))
	closed := serve(handlers[ratelimit.FailClosed], httptest.NewRequest("GET", "/", nil))
	for _, resp := range []*http.Response{open, closed} {
		if policy, state := rateLimitFields(t, resp.Header); policy.params["q"] != 10 || state != nil {
			t.Fatalf("fallback headers %v: want the policy only", resp.Header)
		}
	}
	if open.StatusCode != 200 {
		t.Fatalf("fail-open with Redis down: %d, want 200", open.StatusCode)
	}
	if body, _ := io.ReadAll(closed.Body); closed.StatusCode != 503 || !strings.Contains(string(body), "unavailable") {
		t.Fatalf("fail-closed with Redis down: %d %q, want 503", closed.StatusCode, body)
	}
}

// TestFailureModes checks the decisions Allow returns while Redis is down and
// after it is back.
func TestFailureModes(t *testing.T) {
	srv := redistest.NewStandalone(t)
	ctx := context.Background()
	open := newLimiter(t, srv, ratelimit.Options{Limit: 10, Period: time.Minute})
	closed := newLimiter(t, srv, ratelimit.Options{Limit: 10, Period: time.Minute, FailureMode: ratelimit.FailClosed})
	node := srv.Masters()[0]
	node.Stop()
	tests := []struct {
		l       *ratelimit.Limiter
		allowed bool
		source  ratelimit.Source
	}{
		{open, true, ratelimit.FromFailOpen},
		{closed, false, ratelimit.FromFailClosed},
	}
	for _, tt := range tests {
		res, err := tt.l.Allow(ctx, "k")
		if err != nil || res.Allowed != tt.allowed || res.Source != tt.source || res.Err == nil || !strings.Contains(res.Err.Error(), `"k"`) {
			t.Fatalf("%s: Allow with Redis down = %+v, %v", tt.source, res, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := closed.Allow(cancelled, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Allow with a cancelled context: %v, want context.Canceled (no fallback)", err)
	}
	expired, cancelExpired := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancelExpired()
	if res, err := closed.Allow(expired, "k"); err != nil || res.Source != ratelimit.FromFailClosed {
		t.Fatalf("Allow past its deadline = %+v, %v; want a fail-closed decision (Redis too slow)", res, err)
	}
	if err := closed.Reset(ctx, "k"); err == nil {
		t.Fatal("Reset with Redis down succeeded")
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	// rueidis reconnects on its own; bounded poll for the first decision
	// made by Redis again
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := closed.Allow(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if res.Source == ratelimit.FromRedis {
			if !res.Allowed || res.Remaining != 9 {
				t.Fatalf("after restart: %+v", res)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s 10 s after Redis came back", res.Source)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
