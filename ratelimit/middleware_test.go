package ratelimit_test

import (
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

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/testkit/testclock"
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

// handler returns okHandler behind the middleware of l and opts.
func handler(t *testing.T, l *ratelimit.Limiter, opts ratelimit.MiddlewareOptions) http.Handler {
	t.Helper()
	mw, err := ratelimit.Middleware(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	return mw(okHandler)
}

func serve(h http.Handler, r *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Result()
}

func TestMiddlewareHeaders(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		l := newLimiter(t, srv, ratelimit.Options{Algorithm: ratelimit.SlidingWindowLog, Limit: 3, Period: time.Minute})
		clock := testclock.New(epoch)
		ratelimit.SetClock(l, clock.Now)
		h := handler(t, l, ratelimit.MiddlewareOptions{})
		steps := []struct {
			at         time.Duration
			status     int
			r, t       int64
			retryAfter string
		}{
			{0, 200, 2, 60, ""},
			{time.Second, 200, 1, 60, ""},
			{time.Second, 200, 0, 60, ""},
			{20*time.Second + 500*time.Millisecond, 429, 0, 40, "40"}, // 39.5 s, rounded up
			{59 * time.Second, 429, 0, 1, "1"},
			{60 * time.Second, 200, 0, 60, ""}, // the first request left the window
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
	h := handler(t, l, ratelimit.MiddlewareOptions{PolicyName: `api "v1" \ beta`})
	resp := serve(h, httptest.NewRequest("GET", "/", nil))
	policy, state := rateLimitFields(t, resp.Header)
	// q is the limit, also for GCRA; w is the period rounded up to whole
	// seconds; r counts from the burst
	if policy.name != `api "v1" \ beta` || state.name != policy.name || policy.params["q"] != 5 || policy.params["w"] != 2 || state.params["r"] != 1 {
		t.Fatalf("policy %+v, state %+v from %v", policy, state, resp.Header)
	}
}

func TestMiddlewareRejectsInvalidOptions(t *testing.T) {
	l := newLimiter(t, redistest.Standalone(t), ratelimit.Options{Limit: 5, Period: time.Second})
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name  string
		l     *ratelimit.Limiter
		opts  ratelimit.MiddlewareOptions
		field string
	}{
		{"nil limiter", nil, ratelimit.MiddlewareOptions{}, "Middleware needs a *Limiter, got nil"},
		{"header without proxies", l, ratelimit.MiddlewareOptions{ClientIP: ratelimit.ClientIPSource{Header: "X-Real-IP"}}, "MiddlewareOptions.ClientIP.TrustedProxies"},
		{"proxies without header", l, ratelimit.MiddlewareOptions{ClientIP: ratelimit.ClientIPSource{TrustedProxies: proxies}}, "MiddlewareOptions.ClientIP.Header"},
		{"Forwarded header", l, ratelimit.MiddlewareOptions{ClientIP: ratelimit.ClientIPSource{Header: "forwarded", TrustedProxies: proxies}}, "MiddlewareOptions.ClientIP.Header"},
		{"invalid proxy prefix", l, ratelimit.MiddlewareOptions{ClientIP: ratelimit.ClientIPSource{Header: "X-Real-IP", TrustedProxies: []netip.Prefix{{}}}}, "MiddlewareOptions.ClientIP.TrustedProxies[0]"},
		{"IPv6 prefix negative", l, ratelimit.MiddlewareOptions{IPv6PrefixBits: -1}, "MiddlewareOptions.IPv6PrefixBits"},
		{"IPv6 prefix too long", l, ratelimit.MiddlewareOptions{IPv6PrefixBits: 129}, "MiddlewareOptions.IPv6PrefixBits"},
		{"non-ASCII policy name", l, ratelimit.MiddlewareOptions{PolicyName: "débit"}, "MiddlewareOptions.PolicyName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := ratelimit.Middleware(tt.l, tt.opts)
			if mw != nil || !errors.Is(err, ratelimit.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Middleware = %v, %v; want ErrInvalidOptions naming %s", mw != nil, err, tt.field)
			}
			defer func() {
				if r := recover(); r != err && fmt.Sprint(r) != err.Error() {
					t.Fatalf("MustMiddleware recovered %v, want the panic %v", r, err)
				}
			}()
			ratelimit.MustMiddleware(tt.l, tt.opts)
		})
	}
}

func TestMiddlewareKeyAndCost(t *testing.T) {
	l := newLimiter(t, redistest.Standalone(t), ratelimit.Options{Algorithm: ratelimit.FixedWindow, Limit: 4, Period: time.Hour})
	var handled error
	h := handler(t, l, ratelimit.MiddlewareOptions{
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
	})
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
