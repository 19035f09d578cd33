package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultMiddlewareTimeout bounds a decision of the middleware when the
// request's context has no earlier deadline and MiddlewareOptions.Timeout is
// 0.
const DefaultMiddlewareTimeout = 100 * time.Millisecond

// MiddlewareOptions configures [Middleware]. The zero value limits by client
// IP (the connection's address, IPv6 clients by /64) at cost 1, reads no
// header, and answers denied requests with 429.
type MiddlewareOptions struct {
	// Key returns the identifier a request is counted under. An empty key
	// lets the request through uncounted (for exemptions such as health
	// checks). nil means ClientKey(r, ClientIP, IPv6PrefixBits): the
	// client's address, an IPv6 address reduced to its network; it is empty
	// only when r.RemoteAddr is (some Unix-socket listeners: set Key there).
	Key func(r *http.Request) string
	// ClientIP says where the default key reads the client's address: the
	// connection's (the zero value) or one header set by your proxies. See
	// ClientIPSource.
	ClientIP ClientIPSource
	// IPv6PrefixBits is how many leading bits of an IPv6 client address the
	// default key keeps: 0 means 64, the network one subscriber usually
	// gets (with the full /128 anyone holding a /64 would have 2⁶⁴ limits);
	// 128 limits every address on its own. Between 1 and 128. IPv4 and
	// IPv4-mapped addresses are always whole.
	IPv6PrefixBits int
	// Cost returns the cost of a request (a per-route weight). 0 lets the
	// request through uncounted; a negative cost goes to ErrorHandler. nil
	// means 1 for every request.
	Cost func(r *http.Request) int
	// PolicyName names the quota policy in the RateLimit-Policy and
	// RateLimit fields; empty means "default". It must be printable ASCII.
	PolicyName string
	// Timeout bounds each decision when the request's context has no
	// earlier deadline: past it Redis counts as unavailable and the
	// limiter's FailureMode decides, so a stalled Redis adds at most Timeout
	// to a request. 0 means DefaultMiddlewareTimeout; negative means no
	// bound beyond the request's context.
	Timeout time.Duration
	// DenyHandler writes the response to a denied request, after the
	// RateLimit fields and Retry-After have been set. nil means 429 Too Many
	// Requests with a short text body, or 503 Service Unavailable when the
	// denial comes from FailClosed (Redis is down: the client did nothing
	// wrong).
	DenyHandler func(w http.ResponseWriter, r *http.Request, res Result)
	// ErrorHandler writes the response when the limiter returns an error: a
	// cost above the limit or below 0 (a configuration bug), an error reply
	// of Redis (such as WRONGTYPE), a closed typecache.Client (ErrClosed:
	// never taken as an outage, whatever the FailureMode), or the request
	// being cancelled. nil means 500 Internal Server Error.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Middleware returns a decorator that admits each request through l before
// calling the next handler, or an error wrapping ErrInvalidOptions that names
// the field when opts is invalid (a nil limiter, a ClientIP header without
// trusted proxies or proxies without a header, an invalid trusted proxy
// prefix, IPv6PrefixBits out of range, a policy name that is not printable
// ASCII).
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
// bound: with GCRA and the sliding windows some quota returns earlier).
// Denied requests also get Retry-After in whole seconds, rounded up.
// Fallback decisions (Redis unavailable) carry RateLimit-Policy only, since
// the remaining quota is unknown.
//
// The returned handler is safe for concurrent use.
func Middleware(l *Limiter, opts MiddlewareOptions) (func(http.Handler) http.Handler, error) {
	m, err := newMiddleware(l, opts)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.serve(w, r, next)
		})
	}, nil
}

// MustMiddleware is Middleware for options fixed in the program: it panics
// where Middleware returns an error, as regexp.MustCompile does, so that a
// bad configuration stops the program at start-up.
func MustMiddleware(l *Limiter, opts MiddlewareOptions) func(http.Handler) http.Handler {
	mw, err := Middleware(l, opts)
	if err != nil {
		panic(err)
	}
	return mw
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
		return nil, invalid("Middleware needs a *Limiter, got nil")
	}
	src := opts.ClientIP
	switch {
	case src.Header != "" && len(src.TrustedProxies) == 0:
		return nil, invalid("MiddlewareOptions.ClientIP.TrustedProxies must list the proxies that set %s, got none", src.Header)
	case src.Header == "" && len(src.TrustedProxies) > 0:
		return nil, invalid("MiddlewareOptions.ClientIP.Header must name the header your trusted proxies set (X-Forwarded-For, X-Real-IP...), got none")
	case strings.EqualFold(src.Header, "Forwarded"):
		return nil, invalid("MiddlewareOptions.ClientIP.Header must hold addresses (the Forwarded field's syntax is not read), got %q", src.Header)
	}
	for i, p := range src.TrustedProxies {
		if !p.IsValid() {
			return nil, invalid("MiddlewareOptions.ClientIP.TrustedProxies[%d] must be a valid prefix, got %v", i, p)
		}
	}
	switch {
	case opts.IPv6PrefixBits == 0:
		opts.IPv6PrefixBits = 64
	case opts.IPv6PrefixBits < 1 || opts.IPv6PrefixBits > 128:
		return nil, invalid("MiddlewareOptions.IPv6PrefixBits must be between 1 and 128, got %d", opts.IPv6PrefixBits)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultMiddlewareTimeout
	}
	name := opts.PolicyName
	if name == "" {
		name = "default"
	}
	quoted, err := sfString(name)
	if err != nil {
		return nil, invalid("MiddlewareOptions.PolicyName must be printable ASCII, got %q", name)
	}
	window := (l.opts.Period + time.Second - 1) / time.Second
	return &middleware{
		limiter:  l,
		opts:     opts,
		policy:   quoted + ";q=" + strconv.Itoa(l.opts.Limit) + ";w=" + strconv.FormatInt(int64(window), 10),
		itemName: quoted,
	}, nil
}

// sfString quotes s as a Structured Fields string (RFC 9651 §3.3.3); it
// fails for bytes outside printable ASCII.
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
	res, err := m.allow(r.Context(), key, cost)
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

// allow asks the limiter, bounding the call by the middleware's Timeout
// unless ctx ends earlier.
func (m *middleware) allow(ctx context.Context, key string, cost int) (Result, error) {
	if t := m.opts.Timeout; t > 0 {
		if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > t {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, t)
			defer cancel()
		}
	}
	return m.limiter.AllowN(ctx, key, cost)
}

func (m *middleware) key(r *http.Request) string {
	if m.opts.Key != nil {
		return m.opts.Key(r)
	}
	return ClientKey(r, m.opts.ClientIP, m.opts.IPv6PrefixBits)
}

// ceilSeconds is d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
