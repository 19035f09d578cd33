package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// errNilHandler is what Middleware(nil) reports for every request.
var errNilHandler = errors.New("session: Middleware was given a nil http.Handler")

// contextKey identifies one Store's request state in a context; each Store
// has its own, so two stores can serve the same request.
type contextKey struct{}

// requestState is what Middleware keeps for one request: the cookie's
// token, the session it names (looked up when a handler first asks) or
// the one the handler started, and what must happen to it and to the
// cookie when the response header is written.
type requestState[T any] struct {
	mu            sync.Mutex
	token         string             // the cookie's value, "" without one
	previous      bool               // token came from Cookie.PreviousName
	writer        *responseWriter[T] // where a FailRequest failure writes
	loaded        bool               // token was looked up
	loadErr       error              // the lookup failed: the request goes on without its session
	session       *Session[T]        // nil when the request has no session
	stored        bool               // session is in Redis; false after Start: the commit creates it
	modified      bool               // Put changed a stored session: Save at the commit
	sendToken     bool               // the token changed: set the cookie
	clearCookie   bool               // the cookie names no session: expire it
	clearPrevious bool               // a cookie under Cookie.PreviousName was read: expire it
	personal      bool               // the response depends on a session: keep shared caches off it
	committed     bool               // the header was written (or replaced): no more changes
	failure       error              // ErrorHandler replaced the response: the handler's writes fail
	// staleToken is the cookie's token when it named no live session: End
	// still destroys it, since Regenerate may have moved it an instant ago
	// (a logout sent with the cookie a renewal was replacing).
	staleToken string
}

// Middleware serves next with the request's session within reach of
// Current, Put, Start, Renew, End and LoadError, and, when the response
// header is written (the first WriteHeader, Write or Flush, or the
// handler's return), stores the session if the handler started or changed
// it and sets or clears the cookie. The session the cookie names is looked
// up when the handler first calls one of those (a handler that never does
// costs nothing and never fails for the session's sake); a session read
// before and unchanged since is served from memory, with no round trip. A
// session started and filled within one request is written once, at the
// header, in one round trip; a changed one costs one Save.
//
// A cookie that is malformed or names no live session counts as no
// session: the handler goes on without one and the cookie is cleared.
// When the session cannot be looked up (Redis unavailable, a deadline),
// Options.FailureMode decides: ServeAnonymous (the default) goes on
// without it, refusing changes with ErrUnavailable; FailRequest has
// Options.ErrorHandler write the response in place of the handler's (the
// handler's writes then return the error). A failed store at the header
// (ErrConflict included) always goes to ErrorHandler, and so does every
// request after Close.
//
// Responses of a request whose session was looked up get "Vary: Cookie"
// and, when the handler set no Cache-Control, "Cache-Control: private";
// responses that set or clear the cookie, and those served without the
// session because it could not be looked up, also get "no-store", merged
// into the handler's own directives.
func (s *Store[T]) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case next == nil:
			s.o.ErrorHandler(w, r, errNilHandler)
			return
		case s.refused() != nil:
			s.o.ErrorHandler(w, r, ErrClosed)
			return
		}
		state := &requestState[T]{}
		state.token, state.previous = s.requestToken(r)
		r = r.WithContext(context.WithValue(r.Context(), s.ctxKey, state))
		sw := &responseWriter[T]{ResponseWriter: w, store: s, state: state, request: r}
		state.writer = sw
		next.ServeHTTP(sw, r)
		sw.commit()
	})
}

// requestToken returns the request's session token: under the cookie's
// name, or else under Cookie.PreviousName (previous), whose session moves
// to the current name.
func (s *Store[T]) requestToken(r *http.Request) (token string, previous bool) {
	if cookie, err := r.Cookie(s.o.Cookie.Name); err == nil {
		return cookie.Value, false
	}
	if s.o.Cookie.PreviousName == "" {
		return "", false
	}
	if cookie, err := r.Cookie(s.o.Cookie.PreviousName); err == nil {
		return cookie.Value, true
	}
	return "", false
}

// lookUp loads the session the cookie names, once per request. When that
// fails for another reason than the session's absence, the request goes on
// without it, unless the FailureMode (or a closed Store) has ErrorHandler
// replace the response.
func (s *Store[T]) lookUp(ctx context.Context, state *requestState[T]) {
	if state.loaded {
		return
	}
	state.loaded = true
	if state.token == "" {
		return
	}
	sess, err := s.Get(ctx, state.token)
	switch {
	case err == nil:
		state.session, state.stored, state.personal = sess, true, true
		state.sendToken, state.clearPrevious = state.previous, state.previous
	case errors.Is(err, ErrNotFound):
		state.clearCookie, state.clearPrevious = !state.previous, state.previous
		state.staleToken, state.personal = state.token, true
	default:
		state.loadErr = err
		if s.o.FailureMode == FailRequest || errors.Is(err, ErrClosed) {
			state.writer.replace(err)
		}
	}
}

// refusal is the error of a change asked of a request whose session could
// not be looked up: it wraps ErrUnavailable (unless the Store is closed)
// and the lookup's error.
func (state *requestState[T]) refusal() error {
	err := state.loadErr
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrClosed) {
		return err
	}
	return fmt.Errorf("%w: the request's session could not be loaded: %w", ErrUnavailable, err)
}

// inRequest runs f with ctx's request state locked, after looking up the
// request's session.
func (s *Store[T]) inRequest(ctx context.Context, f func(state *requestState[T]) error) error {
	if ctx == nil {
		return ErrNoMiddleware
	}
	state, ok := ctx.Value(s.ctxKey).(*requestState[T])
	if !ok {
		return ErrNoMiddleware
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	s.lookUp(ctx, state)
	return f(state)
}

// changeable runs f like inRequest, but refuses once the header is
// written, and when the session could not be looked up.
func (s *Store[T]) changeable(ctx context.Context, f func(state *requestState[T]) error) error {
	return s.inRequest(ctx, func(state *requestState[T]) error {
		switch {
		case state.committed:
			return ErrHeaderWritten
		case state.loadErr != nil:
			return state.refusal()
		}
		return f(state)
	})
}

// LoadError returns the error that kept Middleware from looking up the
// request's session (say, Redis unavailable), or nil when there was none:
// with ServeAnonymous, a handler that finds no session through Current can
// tell a visitor who is not logged in (nil) from one whose session is out
// of reach, and answer "try again later" rather than a login page. It
// returns ErrNoMiddleware when ctx did not come through s.Middleware.
func (s *Store[T]) LoadError(ctx context.Context) error {
	var loadErr error
	err := s.inRequest(ctx, func(state *requestState[T]) error {
		loadErr = state.loadErr
		return nil
	})
	if err != nil {
		return err
	}
	return loadErr
}

// Current returns the request's session, or nil when it has none or it
// could not be looked up (see LoadError). ctx must be (or derive from) the
// context of a request served by s.Middleware; the first call of a request
// (or of Put, Start, Renew, End or LoadError) looks the session up, under
// ctx. Change the session's data with Put, not by assigning to Data.
func (s *Store[T]) Current(ctx context.Context) *Session[T] {
	var sess *Session[T]
	_ = s.inRequest(ctx, func(state *requestState[T]) error {
		sess = state.session
		return nil
	})
	return sess
}

// Put replaces the data of the request's session; Middleware stores it
// when the response header is written. It returns ErrNotFound when the
// request has no session (call Start first), ErrHeaderWritten once the
// header is written (from then on the session cannot change), and an
// error wrapping ErrUnavailable when the session could not be looked up.
// Start, Renew and End refuse the same way.
func (s *Store[T]) Put(ctx context.Context, data T) error {
	return s.changeable(ctx, func(state *requestState[T]) error {
		if state.session == nil {
			return ErrNotFound
		}
		state.session.Data = data
		state.modified = state.stored
		return nil
	})
}

// Start makes a new session for userID holding data the request's session
// and returns it; Middleware stores it and sends its token in the cookie
// when the response header is written (so data given to Put in the same
// request is stored with it, in one round trip). Call it at login: any
// session the request already had is destroyed first, so a token planted
// before login (session fixation) never becomes an authenticated one. It
// returns ErrHeaderWritten once the header is written.
func (s *Store[T]) Start(ctx context.Context, userID string, data T) (*Session[T], error) {
	var sess *Session[T]
	err := s.changeable(ctx, func(state *requestState[T]) error {
		if old := state.session; old != nil && state.stored {
			if err := s.Destroy(ctx, old.Token); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		var err error
		if sess, err = s.prepare(ctx, userID, data); err != nil {
			return err
		}
		state.session, state.stored, state.modified = sess, false, false
		state.sendToken, state.personal = true, true
		return nil
	})
	return sess, err
}

// Renew moves the request's session to a new token (see Regenerate) and
// sends the new token in the cookie. Call it on every change of privilege.
// Data given to Put earlier in the request is stored with it. It returns
// ErrNotFound when the request has no session, and ErrHeaderWritten once
// the header is written.
func (s *Store[T]) Renew(ctx context.Context) (*Session[T], error) {
	var sess *Session[T]
	err := s.changeable(ctx, func(state *requestState[T]) error {
		old := state.session
		switch {
		case old == nil:
			return ErrNotFound
		case !state.stored: // started in this request: only the token changes
			renewed := *old
			renewed.Token, renewed.id = newID(old.route)
			sess = &renewed
		default:
			var err error
			if sess, err = s.Regenerate(ctx, old); err != nil {
				return err
			}
		}
		state.session, state.modified, state.sendToken = sess, false, true
		return nil
	})
	return sess, err
}

// End destroys the request's session (logout) and clears the cookie. When
// the cookie names no live session, End still destroys what its token
// leads to: a session that Regenerate (a Renew in a concurrent request)
// moved it to an instant before. Called after the header was written, End
// still destroys the session, but the cookie stays until the next request
// clears it.
func (s *Store[T]) End(ctx context.Context) error {
	return s.inRequest(ctx, func(state *requestState[T]) error {
		if state.loadErr != nil {
			return state.refusal()
		}
		token := state.staleToken
		if state.session != nil && state.stored {
			token = state.session.Token
		}
		if token != "" {
			if err := s.Destroy(ctx, token); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		state.staleToken = ""
		if state.session == nil {
			return nil
		}
		state.session, state.stored, state.modified, state.sendToken = nil, false, false, false
		state.clearCookie = true
		return nil
	})
}

// responseWriter commits the session (store, cookie) just before the
// response header is written.
type responseWriter[T any] struct {
	http.ResponseWriter
	store   *Store[T]
	state   *requestState[T]
	request *http.Request
}

// commit stores a started or modified session and sets the cookie and the
// caching headers, once. It reports whether the handler's response may
// proceed.
func (w *responseWriter[T]) commit() bool {
	state := w.state
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.committed {
		return state.failure == nil
	}
	if err := w.store.flush(w.request.Context(), state); err != nil {
		w.replace(err)
		return false
	}
	state.committed = true
	h := w.Header()
	cookieSent := false
	if state.session != nil && state.sendToken {
		http.SetCookie(w, w.store.cookie(state.session))
		cookieSent = true
	}
	if state.session == nil && state.clearCookie {
		http.SetCookie(w, w.store.expiredCookie(w.store.o.Cookie.Name))
		cookieSent = true
	}
	if state.clearPrevious {
		http.SetCookie(w, w.store.expiredCookie(w.store.o.Cookie.PreviousName))
		cookieSent = true
	}
	if cookieSent || state.personal || state.loadErr != nil {
		keepFromSharedCaches(h, cookieSent || state.loadErr != nil)
	}
	return true
}

// replace has ErrorHandler write the response for err, in place of the
// handler's, unless the header was written already; the handler's writes
// then return the error. The state is locked.
func (w *responseWriter[T]) replace(err error) {
	if w.state.committed {
		return
	}
	w.state.committed = true
	w.state.failure = fmt.Errorf("session: response replaced by Options.ErrorHandler: %w", err)
	w.store.o.ErrorHandler(w.ResponseWriter, w.request, err)
}

// flush writes what the request changed: the session Start made, or the
// data Put changed. The handler's work is done, so it is stored even if
// the client has gone.
func (s *Store[T]) flush(ctx context.Context, state *requestState[T]) error {
	ctx = context.WithoutCancel(ctx)
	switch {
	case state.session == nil:
		return nil
	case !state.stored:
		if err := s.insert(ctx, state.session); err != nil {
			return err
		}
		state.stored = true
	case state.modified:
		if err := s.Save(ctx, state.session); err != nil {
			return err
		}
		state.modified = false
	}
	return nil
}

// WriteHeader commits the session before a final status; informational
// (1xx) statuses pass through.
func (w *responseWriter[T]) WriteHeader(code int) {
	if code >= 200 && !w.commit() {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter[T]) Write(b []byte) (int, error) {
	if !w.commit() {
		return 0, w.state.failure
	}
	return w.ResponseWriter.Write(b)
}

// Flush commits the session, then flushes the underlying writer.
func (w *responseWriter[T]) Flush() {
	if w.commit() {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter[T]) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Store[T]) cookie(sess *Session[T]) *http.Cookie {
	c := s.baseCookie(s.o.Cookie.Name)
	c.Value = sess.Token
	if s.o.Cookie.Persistent {
		c.Expires = sess.AbsoluteExpiresAt.UTC()
		c.MaxAge = max(1, int(sess.AbsoluteExpiresAt.Sub(s.clock()).Seconds()))
	}
	return c
}

func (s *Store[T]) expiredCookie(name string) *http.Cookie {
	c := s.baseCookie(name)
	c.Expires = time.Unix(1, 0).UTC()
	c.MaxAge = -1
	return c
}

func (s *Store[T]) baseCookie(name string) *http.Cookie {
	o := &s.o.Cookie
	return &http.Cookie{
		Name: name, Path: o.Path, Domain: o.Domain,
		Secure: !o.Insecure, HttpOnly: true, SameSite: o.SameSite,
	}
}
