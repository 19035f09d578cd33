package session

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/typecache/typecache/codec"
	"github.com/typecache/typecache/internal/keyspace"
)

// Defaults used for zero fields of Options and CookieOptions. The timeouts
// follow the OWASP Session Management Cheat Sheet: 15–30 minutes idle for
// low-risk applications, 4–8 hours absolute.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 8 * time.Hour
	DefaultPrefix          = "default"
	DefaultCookieName      = "session"
	// DefaultMaxLocalSessions bounds the sessions a Store keeps in memory
	// for reads without a round trip.
	DefaultMaxLocalSessions = 10_000
	// MinIntegrityKeyLen is the shortest key Options.IntegrityKeys accepts:
	// HMAC-SHA-256 gains nothing from more, and loses strength with less.
	MinIntegrityKeyLen = 32
	// MinRouteKeyLen is the shortest key Options.RouteKeys accepts.
	MinRouteKeyLen = 32
)

// hostPrefix is the cookie-name prefix browsers accept only for a Secure
// cookie with Path=/ and no Domain, so that no other host (a sibling
// subdomain) can set or shadow it.
const hostPrefix = "__Host-"

// Options configures a Store. The zero value is valid and means the
// documented defaults. New copies the options; the caller's value is never
// modified.
type Options[T any] struct {
	// IdleTimeout ends a session that has not been used for this long. It
	// slides: a read more than TouchThreshold after the last extension
	// pushes it forward. Default DefaultIdleTimeout (30 minutes).
	IdleTimeout time.Duration

	// AbsoluteTimeout ends a session this long after Create, however active
	// it is. Regenerate keeps the deadline. It must be at least IdleTimeout.
	// Default DefaultAbsoluteTimeout (8 hours).
	AbsoluteTimeout time.Duration

	// TouchThreshold is how old the last extension of the idle deadline must
	// be before a read extends it again. Reads within the threshold write
	// nothing to Redis (and, served from the local tier, send nothing). A
	// session therefore idles out between IdleTimeout-TouchThreshold and
	// IdleTimeout after its last use. Default IdleTimeout/10; it must be
	// less than IdleTimeout.
	TouchThreshold time.Duration

	// Codec encodes session data. Default codec.JSON[T](). Wrap it with the
	// codec package's AES-GCM wrapper to encrypt data at rest.
	Codec codec.Codec[T]

	// Prefix names the store's instance: every Redis key of the store
	// starts with "session:<Prefix>:". Two stores with the same Prefix
	// share their sessions; give stores of different data types different
	// prefixes. It may hold letters, digits, '.', '_', '-' and '@'.
	// Default DefaultPrefix ("default").
	Prefix string

	// IntegrityKeys, when set, authenticate every record with HMAC-SHA-256
	// over the fields the store writes (session id, user ID, creation time,
	// absolute deadline, version and data): a record that someone with
	// write access to Redis minted or changed reads as ErrNotFound (wrapping
	// ErrTampered). The first key signs; every key verifies, so rotate by
	// putting a new key first and dropping the old one after
	// AbsoluteTimeout. Each key must be at least MinIntegrityKeyLen bytes
	// from a CSPRNG. Without keys, Redis must be trusted: see the security
	// guide.
	IntegrityKeys [][]byte

	// RouteKeys, when set, key the routes of users' sessions: the part of a
	// token that names the Redis hash holding all of a user's sessions is an
	// HMAC-SHA-256 of the user ID under the first key, so that a token says
	// nothing about whose it is to anyone without the key. Every key is
	// tried by DestroyAll, List and Revoke (one round trip each), and a
	// user's session is valid only on its user's route under a listed key:
	// removing a key ends the sessions made under it. Rotate in three
	// deploys: add the new key second (every process then finds sessions
	// routed under it), then move it first (new sessions go there), then
	// drop the old key after AbsoluteTimeout. Each key must be at least
	// MinRouteKeyLen bytes from a CSPRNG. When empty, the Store uses one
	// random key that the deployment creates once in Redis under the
	// store's instance (session:<Prefix>:k{}) and every Store of the same
	// Prefix shares: see the session guide for when it is lost.
	RouteKeys [][]byte

	// MaxLocalSessions bounds the sessions this process keeps in memory so
	// that reading an unchanged session costs no round trip (Redis tells
	// the process when one changes). Default DefaultMaxLocalSessions.
	MaxLocalSessions int

	// DisableLocal turns the local tier off: every read is a round trip.
	// A client built with rueidis's DisableCache has no local tier either.
	DisableLocal bool

	// Observer is told of every session's life-cycle event (created,
	// loaded, saved, conflicts, regenerated, destroyed, rejected tokens,
	// errors); LogObserver adapts a *slog.Logger. Default none.
	Observer Observer

	// Cookie configures the cookie Middleware reads and writes.
	Cookie CookieOptions

	// FailureMode says what Middleware does with a request whose session
	// cannot be looked up (Redis unavailable, a deadline): ServeAnonymous
	// (the zero value) or FailRequest. See the session guide for the
	// choice.
	FailureMode FailureMode

	// ErrorHandler writes the response in place of the handler's when
	// Middleware cannot store the session at the header (ErrConflict, Redis
	// unavailable), when it cannot look the session up under FailRequest,
	// and for every request after Close. It runs where that happened: at
	// the header, or in the handler's first call of Current, Put, Start,
	// Renew, End or LoadError, which then goes on without the session
	// while its writes fail (there is no next handler to call: the
	// handler runs in every case). It must not call those helpers itself:
	// the request's session is locked while it runs. Default: log the
	// error with slog.Default and answer 500 Internal Server Error with no
	// detail.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// FailureMode says what Middleware does with a request whose session it
// cannot look up because Redis did not answer. Either way this happens
// only when the handler asks for the session: requests whose handlers
// never do are served as usual, cookie or not.
type FailureMode int

const (
	// ServeAnonymous serves the request without its session: Current
	// returns nil, LoadError the cause, and Put, Start, Renew and End
	// refuse with an error wrapping ErrUnavailable; the cookie is left as
	// it is, and the response gets "Cache-Control: private, no-store". A
	// handler that requires a login sees a visitor who is not logged in.
	ServeAnonymous FailureMode = iota
	// FailRequest has Options.ErrorHandler write the response (by default a
	// 500) in place of the handler's, as soon as the handler asks for the
	// session. A handler that first asks after writing its header keeps its
	// response, and goes on as with ServeAnonymous.
	FailRequest
)

// CookieOptions configures the session cookie. The zero value gives the
// safe defaults: the name "__Host-session", HttpOnly (always), Secure,
// SameSite=Lax, Path=/, no Domain, and no Max-Age or Expires, so the browser
// forgets the cookie when it closes.
type CookieOptions struct {
	// Name is the cookie name, before the "__Host-" prefix. Default
	// DefaultCookieName ("session").
	Name string

	// Domain, when set, sends the cookie to subdomains too, and the
	// "__Host-" prefix is dropped (browsers refuse it with a Domain). Leave
	// it empty unless you need that.
	Domain string

	// Path scopes the cookie. Default "/". Another path drops the "__Host-"
	// prefix.
	Path string

	// Insecure drops the Secure attribute, so the cookie also travels over
	// plain HTTP, and drops the "__Host-" prefix. Only for local
	// development.
	Insecure bool

	// SameSite is the SameSite attribute: http.SameSiteLaxMode (default),
	// http.SameSiteStrictMode, or http.SameSiteNoneMode (which requires
	// Secure). http.SameSiteDefaultMode is rejected: say what you mean.
	SameSite http.SameSite

	// HostPrefix insists on the "__Host-" prefix: New fails when Insecure,
	// Domain or Path forbid it, instead of dropping it. The prefix is the
	// default wherever it is allowed; this only turns the silent drop into
	// an error.
	HostPrefix bool

	// NoHostPrefix names the cookie Name exactly, without the "__Host-"
	// prefix it gets by default.
	NoHostPrefix bool

	// PreviousName is a name the session cookie had before, such as
	// "session" when moving to the "__Host-" prefix. While it is set,
	// Middleware also reads a cookie of that name when the current one is
	// absent, moves its session to the current name and expires the old
	// cookie, so renaming logs nobody out. The old name lacks the prefix's
	// protection, so remove it once AbsoluteTimeout has passed.
	PreviousName string

	// Persistent makes the cookie outlive the browser session: it gets
	// Max-Age and Expires set to the session's absolute deadline.
	Persistent bool
}

// validated returns a copy of o with the defaults filled in, or an error
// naming the first invalid field. The copy's Cookie.Name is the name sent,
// "__Host-" prefix included.
func (o Options[T]) validated() (Options[T], error) {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.IdleTimeout < time.Millisecond {
		return o, invalid("Options.IdleTimeout must be >= 1ms, got %v", o.IdleTimeout)
	}
	if o.AbsoluteTimeout == 0 {
		o.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if o.AbsoluteTimeout < o.IdleTimeout {
		return o, invalid("Options.AbsoluteTimeout must be >= IdleTimeout (%v), got %v", o.IdleTimeout, o.AbsoluteTimeout)
	}
	touch := o.TouchThreshold
	if touch == 0 {
		o.TouchThreshold = o.IdleTimeout / 10
	}
	if touch < 0 || o.TouchThreshold >= o.IdleTimeout || o.TouchThreshold < time.Millisecond {
		return o, invalid("Options.TouchThreshold must be >= 1ms and < IdleTimeout (%v), got %v", o.IdleTimeout, touch)
	}
	if o.Codec == nil {
		o.Codec = codec.JSON[T]()
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := keyspace.CheckName(o.Prefix); err != nil {
		return o, invalid("Options.Prefix %v", err)
	}
	var err error
	if o.IntegrityKeys, err = copyKeys("IntegrityKeys", o.IntegrityKeys, MinIntegrityKeyLen); err != nil {
		return o, err
	}
	if o.RouteKeys, err = copyKeys("RouteKeys", o.RouteKeys, MinRouteKeyLen); err != nil {
		return o, err
	}
	if o.MaxLocalSessions == 0 {
		o.MaxLocalSessions = DefaultMaxLocalSessions
	}
	if o.MaxLocalSessions < 0 {
		return o, invalid("Options.MaxLocalSessions must be >= 0, got %d", o.MaxLocalSessions)
	}
	if o.Observer == nil {
		o.Observer = NoopObserver{}
	}
	if o.FailureMode != ServeAnonymous && o.FailureMode != FailRequest {
		return o, invalid("Options.FailureMode must be ServeAnonymous or FailRequest, got %d", o.FailureMode)
	}
	if o.ErrorHandler == nil {
		o.ErrorHandler = logAndFail
	}
	o.Cookie, err = o.Cookie.validated()
	return o, err
}

// copyKeys returns a copy of keys, the option field, or an error naming the
// first key shorter than minLen.
func copyKeys(field string, keys [][]byte, minLen int) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	copied := make([][]byte, len(keys))
	for i, k := range keys {
		if len(k) < minLen {
			return nil, invalid("Options.%s[%d] must be at least %d bytes, got %d", field, i, minLen, len(k))
		}
		copied[i] = append([]byte(nil), k...) // the caller may reuse its slices
	}
	return copied, nil
}

func (c CookieOptions) validated() (CookieOptions, error) {
	if c.Name == "" {
		c.Name = DefaultCookieName
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	switch c.SameSite {
	case http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		if c.Insecure {
			return c, invalid("Options.Cookie.SameSite None requires Secure; Options.Cookie.Insecure must be false")
		}
	default:
		return c, invalid("Options.Cookie.SameSite must be Lax, Strict or None, got %d", c.SameSite)
	}
	prefixAllowed := !c.Insecure && c.Path == "/" && c.Domain == ""
	switch {
	case c.HostPrefix && c.NoHostPrefix:
		return c, invalid("Options.Cookie.HostPrefix and Options.Cookie.NoHostPrefix cannot both be set")
	case strings.HasPrefix(c.Name, hostPrefix) || c.HostPrefix:
		if !prefixAllowed {
			return c, invalid("Options.Cookie.HostPrefix (or a %q Name) requires Secure, Path \"/\" and no Domain; got Insecure=%v Path=%q Domain=%q", hostPrefix, c.Insecure, c.Path, c.Domain)
		}
		c.HostPrefix = true
	case !c.NoHostPrefix && prefixAllowed:
		c.HostPrefix = true
	}
	if c.HostPrefix && !strings.HasPrefix(c.Name, hostPrefix) {
		c.Name = hostPrefix + c.Name
	}
	if strings.HasPrefix(c.Name, "__Secure-") && c.Insecure {
		return c, invalid("Options.Cookie.Name %q starts with \"__Secure-\" and requires Secure; Options.Cookie.Insecure must be false", c.Name)
	}
	for _, name := range []string{c.Name, c.PreviousName} {
		if name == "" {
			continue
		}
		if err := (&http.Cookie{Name: name, Value: "x", Domain: c.Domain, Path: c.Path}).Valid(); err != nil {
			return c, invalid("Options.Cookie is not a valid cookie: %v", err)
		}
	}
	if c.PreviousName == c.Name {
		return c, invalid("Options.Cookie.PreviousName must differ from the cookie's name %q", c.Name)
	}
	return c, nil
}

// logAndFail is the default ErrorHandler: the error goes to the log (it
// never holds a token), the client gets a bare 500.
func logAndFail(w http.ResponseWriter, r *http.Request, err error) {
	slog.ErrorContext(r.Context(), "session: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
