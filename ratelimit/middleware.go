package ratelimit

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// MiddlewareOptions configures [Middleware]. The zero value limits by client
// IP at cost 1, trusts no proxy, and answers denied requests with 429.
type MiddlewareOptions struct {
	// Key returns the identifier a request is counted under. An empty key
	// lets the request through uncounted (for exemptions such as health
	// checks). nil means the client IP: ClientIP(r, TrustedProxies), which
	// is empty only when r.RemoteAddr is (some Unix-socket listeners: set
	// Key there).
	Key func(r *http.Request) string
	// TrustedProxies lists the networks of your own reverse proxies and load
	// balancers. Only when the connection comes from one of them are
	// X-Forwarded-For and X-Real-IP read; see ClientIP. Empty means the
	// connection's address is the client, always.
	TrustedProxies []netip.Prefix
	// Cost returns the cost of a request (a per-route weight). 0 lets the
	// request through uncounted; a negative cost goes to ErrorHandler. nil
	// means 1 for every request.
	Cost func(r *http.Request) int
	// PolicyName names the quota policy in the RateLimit-Policy and
	// RateLimit fields; empty means "default". It must be printable ASCII.
	PolicyName string
	// DenyHandler writes the response to a denied request, after the
	// RateLimit fields and Retry-After have been set. nil means 429 Too Many
	// Requests with a short text body, or 503 Service Unavailable when the
	// denial comes from FailClosed (Redis is down: the client did nothing
	// wrong).
	DenyHandler func(w http.ResponseWriter, r *http.Request, res Result)
	// ErrorHandler writes the response when the limiter returns an error:
	// a cost above the limit or below 0 (a configuration bug) or the request being
	// cancelled. nil means 500 Internal Server Error.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Middleware returns a decorator that admits each request through l before
// calling the next handler.
//
// Every counted response carries the fields of
// draft-ietf-httpapi-ratelimit-headers-10, for example
//
//	RateLimit-Policy: "default";q=100;w=60
//	RateLimit: "default";r=42;t=18
//
// where q is Options.Limit and w is Options.Period in whole seconds (rounded
// up): the policy as configured, also for GCRA, whose Burst only shows in r.
// r is the remaining quota and t the seconds until more quota is available:
// RetryAfter for a denied request, ResetAfter for an allowed one (an upper
// bound: with GCRA and the sliding windows some quota returns earlier). Denied requests also get Retry-After in whole seconds,
// rounded up. Fallback decisions (Redis down) carry RateLimit-Policy only,
// since the remaining quota is unknown.
//
// Middleware panics when opts is invalid (nil limiter, an invalid trusted
// proxy prefix, a policy name that is not printable ASCII), as
// http.ServeMux.Handle does for a bad pattern: it is a programming error found
// at start-up. The returned handler is safe for concurrent use.
func Middleware(l *Limiter, opts MiddlewareOptions) func(http.Handler) http.Handler {
	m, err := newMiddleware(l, opts)
	if err != nil {
		panic(err)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.serve(w, r, next)
		})
	}
}

// middleware is a validated MiddlewareOptions with its constant header
// values computed once.
type middleware struct {
	limiter  *Limiter
	opts     MiddlewareOptions
	policy   string // the RateLimit-Policy value
	itemName string // the quoted policy name that starts a RateLimit value
}

func newMiddleware(l *Limiter, opts MiddlewareOptions) (*middleware, error) {
	if l == nil {
		return nil, fmt.Errorf("ratelimit: Middleware needs a *Limiter, got nil")
	}
	for i, p := range opts.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("ratelimit: MiddlewareOptions.TrustedProxies[%d] is not a valid prefix", i)
		}
	}
	name := opts.PolicyName
	if name == "" {
		name = "default"
	}
	quoted, err := sfString(name)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: MiddlewareOptions.PolicyName: %w", err)
	}
	window := (l.opts.Period + time.Second - 1) / time.Second
	return &middleware{
		limiter:  l,
		opts:     opts,
		policy:   quoted + ";q=" + strconv.Itoa(l.opts.Limit) + ";w=" + strconv.FormatInt(int64(window), 10),
		itemName: quoted,
	}, nil
}

// sfString quotes s as a Structured Fields string (RFC 9651 §3.3.3).
func sfString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("%q is not printable ASCII", s)
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String(), nil
}

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	cost := 1
	if m.opts.Cost != nil {
		cost = m.opts.Cost(r)
	}
	key := ""
	if cost != 0 {
		key = m.key(r)
	}
	if key == "" {
		next.ServeHTTP(w, r)
		return
	}
	res, err := m.limiter.AllowN(r.Context(), key, cost)
	if err != nil {
		if m.opts.ErrorHandler != nil {
			m.opts.ErrorHandler(w, r, err)
			return
		}
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("RateLimit-Policy", m.policy)
	if res.Source == FromRedis || res.Source == FromLocalDenyCache {
		t := res.ResetAfter
		if !res.Allowed {
			t = res.RetryAfter
		}
		h.Set("RateLimit", m.itemName+";r="+strconv.Itoa(res.Remaining)+";t="+strconv.FormatInt(ceilSeconds(t), 10))
	}
	if res.Allowed {
		next.ServeHTTP(w, r)
		return
	}
	if res.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(ceilSeconds(res.RetryAfter), 10))
	}
	if m.opts.DenyHandler != nil {
		m.opts.DenyHandler(w, r, res)
		return
	}
	if res.Source == FromFailClosed {
		http.Error(w, "rate limiter unavailable", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "rate limit exceeded, retry in "+strconv.FormatInt(ceilSeconds(res.RetryAfter), 10)+" s", http.StatusTooManyRequests)
}

func (m *middleware) key(r *http.Request) string {
	if m.opts.Key != nil {
		return m.opts.Key(r)
	}
	return ClientIP(r, m.opts.TrustedProxies)
}

// ceilSeconds is d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// ClientIP returns the address of the client that sent r, for use as a rate
// limit key.
//
// It is the connection's address (r.RemoteAddr) unless that address is in
// trustedProxies. Then X-Forwarded-For is walked from the right: each entry
// was appended by the proxy to its right, so entries that are themselves
// trusted proxies are skipped, and the first one that is not is the client.
// When every entry is trusted, the leftmost is taken. Without
// X-Forwarded-For, a parsable X-Real-IP set by the trusted proxy is used.
// Addresses left of the client's are never read: the client can write
// anything there.
//
// IPv4-mapped IPv6 addresses are returned as IPv4. An entry a trusted proxy
// wrote that is not an IP address (such as "unknown") is returned as it is.
func ClientIP(r *http.Request, trustedProxies []netip.Prefix) string {
	remote, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !trusted(remote, trustedProxies) {
		return remote.String()
	}
	if forwarded := r.Header.Values("X-Forwarded-For"); len(forwarded) > 0 {
		return clientFromForwarded(strings.Join(forwarded, ","), remote, trustedProxies)
	}
	if real, ok := parseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); ok {
		return real.String()
	}
	return remote.String()
}

// clientFromForwarded returns the rightmost untrusted entry of an
// X-Forwarded-For list whose sender, remote, is trusted; the leftmost entry
// when all are trusted. It never returns "": an empty entry stands for the
// hop to its right.
func clientFromForwarded(list string, remote netip.Addr, trustedProxies []netip.Prefix) string {
	hop := remote.String()
	for list != "" {
		i := strings.LastIndexByte(list, ',')
		entry := strings.TrimSpace(list[i+1:])
		list = list[:max(i, 0)]
		addr, ok := parseAddr(entry)
		switch {
		case !ok && entry == "":
			return hop
		case !ok:
			return entry
		case !trusted(addr, trustedProxies):
			return addr.String()
		}
		hop = addr.String()
	}
	return hop
}

// parseAddr parses "ip", "ip:port" or "[ipv6]:port", unmapping IPv4-in-IPv6.
func parseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}

func trusted(addr netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
