package session

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/typecache/typecache/codec"
)

// Defaults used for zero fields of Options and CookieOptions. The timeouts
// follow the OWASP Session Management Cheat Sheet: 15–30 minutes idle for
// low-risk applications, 4–8 hours absolute.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 8 * time.Hour
	DefaultPrefix          = "session:"
	DefaultCookieName      = "session"
)

// Options configures a Store. The zero value is valid and means the
// documented defaults. New copies the options; the caller's value is never
// modified.
type Options[T any] struct {
	// IdleTimeout ends a session that has not been used for this long. It
	// slides: every Get more than TouchThreshold after the last extension
	// pushes it forward. Default DefaultIdleTimeout (30 minutes).
	IdleTimeout time.Duration

	// AbsoluteTimeout ends a session this long after Create, however active
	// it is. Regenerate keeps the deadline. It must be at least IdleTimeout.
	// Default DefaultAbsoluteTimeout (8 hours).
	AbsoluteTimeout time.Duration

	// TouchThreshold is how old the last extension of the idle deadline must
	// be before a Get extends it again. Reads within the threshold write
	// nothing to Redis. A session therefore idles out between
	// IdleTimeout-TouchThreshold and IdleTimeout after its last use.
	// Default IdleTimeout/10; it must be less than IdleTimeout.
	TouchThreshold time.Duration

	// Codec encodes session data. Default codec.JSON[T](). Wrap it with the
	// codec package's AES-GCM wrapper to encrypt data at rest.
	Codec codec.Codec[T]

	// Prefix starts every Redis key of the store. It must not contain '{' or
	// '}': keys are hash-tagged by token hash and by user ID, and a brace in
	// the prefix would put every session in one cluster slot.
	// Default DefaultPrefix ("session:").
	Prefix string

	// Cookie configures the cookie Middleware reads and writes.
	Cookie CookieOptions

	// ErrorHandler writes the response when Middleware cannot load or save
	// a session (Redis unavailable, ErrConflict). Default: 500 Internal
	// Server Error with no detail.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// CookieOptions configures the session cookie. The zero value gives the
// safe defaults: HttpOnly (always), Secure, SameSite=Lax, Path=/, no
// Domain, and no Max-Age or Expires, so the browser forgets the cookie when
// it closes.
type CookieOptions struct {
	// Name is the cookie name. Default DefaultCookieName ("session").
	Name string

	// Domain, when set, sends the cookie to subdomains too. Leave it empty
	// unless you need that; HostPrefix requires it empty.
	Domain string

	// Path scopes the cookie. Default "/".
	Path string

	// Insecure drops the Secure attribute, so the cookie also travels over
	// plain HTTP. Only for local development.
	Insecure bool

	// SameSite is the SameSite attribute: http.SameSiteLaxMode (default),
	// http.SameSiteStrictMode, or http.SameSiteNoneMode (which requires
	// Secure). http.SameSiteDefaultMode is rejected: say what you mean.
	SameSite http.SameSite

	// HostPrefix prepends "__Host-" to the name, which browsers honour only
	// for Secure cookies with Path=/ and no Domain; New checks all three.
	HostPrefix bool

	// Persistent makes the cookie outlive the browser session: it gets
	// Max-Age and Expires set to the session's absolute deadline.
	Persistent bool
}

// config is the validated, defaulted form of Options.
type config[T any] struct {
	idle, absolute, touch time.Duration
	codec                 codec.Codec[T]
	prefix                string
	cookie                CookieOptions // Name includes any "__Host-" prefix
	errorHandler          func(http.ResponseWriter, *http.Request, error)
}

func optionError(format string, args ...any) error {
	return fmt.Errorf("session: Options."+format, args...)
}

func (o Options[T]) validate() (config[T], error) {
	c := config[T]{
		idle: o.IdleTimeout, absolute: o.AbsoluteTimeout, touch: o.TouchThreshold,
		codec: o.Codec, prefix: o.Prefix, cookie: o.Cookie, errorHandler: o.ErrorHandler,
	}
	if c.idle == 0 {
		c.idle = DefaultIdleTimeout
	}
	if c.absolute == 0 {
		c.absolute = DefaultAbsoluteTimeout
	}
	if c.idle < time.Millisecond {
		return c, optionError("IdleTimeout must be >= 1ms, got %v", o.IdleTimeout)
	}
	if c.absolute < c.idle {
		return c, optionError("AbsoluteTimeout (%v) must be >= IdleTimeout (%v)", c.absolute, c.idle)
	}
	if c.touch == 0 {
		c.touch = c.idle / 10
	}
	if c.touch < 0 || c.touch >= c.idle {
		return c, optionError("TouchThreshold must be >= 0 and < IdleTimeout (%v), got %v", c.idle, o.TouchThreshold)
	}
	if c.codec == nil {
		c.codec = codec.JSON[T]()
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if strings.ContainsAny(c.prefix, "{}") {
		return c, optionError("Prefix must not contain '{' or '}', got %q", o.Prefix)
	}
	if c.errorHandler == nil {
		c.errorHandler = internalServerError
	}
	err := c.cookie.validate()
	return c, err
}

func (c *CookieOptions) validate() error {
	if c.Name == "" {
		c.Name = DefaultCookieName
	}
	if c.HostPrefix {
		c.Name = "__Host-" + c.Name
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
			return optionError("Cookie.SameSite None requires Secure; Cookie.Insecure must be false")
		}
	default:
		return optionError("Cookie.SameSite must be Lax, Strict or None, got %d", c.SameSite)
	}
	if err := (&http.Cookie{Name: c.Name, Value: "x", Domain: c.Domain, Path: c.Path}).Valid(); err != nil {
		return optionError("Cookie is not a valid cookie: %v", err)
	}
	if strings.HasPrefix(c.Name, "__Host-") && (c.Insecure || c.Path != "/" || c.Domain != "") {
		return optionError("Cookie.HostPrefix (or a \"__Host-\" Name) requires Secure, Path \"/\" and no Domain; got Insecure=%v Path=%q Domain=%q", c.Insecure, c.Path, c.Domain)
	}
	if strings.HasPrefix(c.Name, "__Secure-") && c.Insecure {
		return optionError("Cookie.Name %q starts with \"__Secure-\" and requires Secure; Cookie.Insecure must be false", c.Name)
	}
	return nil
}

func internalServerError(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
