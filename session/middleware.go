package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// contextKey identifies one Store's request state in a context; each Store
// has its own, so two stores can serve the same request.
type contextKey struct{}

// requestState is what Middleware keeps for one request: the session the
// cookie named (or the handler started), and what must happen to it and
// to the cookie before the response header goes out.
type requestState[T any] struct {
	mu          sync.Mutex
	session     *Session[T] // nil when the request has no session
	modified    bool        // Put was called: Save before responding
	sendToken   bool        // the token changed: set the cookie
	clearCookie bool        // the cookie names no session: expire it
}

// Middleware loads the session named by the request's cookie into the
// request context and, before the response header is written, saves it if
// the handler called Put and sets or clears the cookie. Handlers reach the
// session through Current, Put, Start, Renew and End.
//
// A cookie that is malformed or names no live session counts as no
// session: the handler runs without one and the cookie is cleared. Only a
// Redis failure, or a failed Save (ErrConflict included), is an error; it
// goes to Options.ErrorHandler, which writes the response in place of the
// handler's (writes the handler makes afterwards return the error).
func (s *Store[T]) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		state := &requestState[T]{}
		if cookie, err := r.Cookie(s.cfg.cookie.Name); err == nil {
			sess, err := s.Get(r.Context(), cookie.Value)
			switch {
			case err == nil:
				state.session = sess
			case errors.Is(err, ErrNotFound):
				state.clearCookie = true
			default:
				s.cfg.errorHandler(w, r, err)
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), s.ctxKey, state))
		sw := &responseWriter[T]{ResponseWriter: w, store: s, state: state, request: r}
		next.ServeHTTP(sw, r)
		sw.commit()
	})
}

// inRequest runs f with ctx's request state locked.
func (s *Store[T]) inRequest(ctx context.Context, f func(state *requestState[T]) error) error {
	state, ok := ctx.Value(s.ctxKey).(*requestState[T])
	if !ok {
		return ErrNoMiddleware
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	return f(state)
}

// Current returns the request's session, or nil when it has none. ctx must
// be (or derive from) the context of a request served by s.Middleware.
// Change the session's data with Put, not by assigning to Data.
func (s *Store[T]) Current(ctx context.Context) *Session[T] {
	var sess *Session[T]
	_ = s.inRequest(ctx, func(state *requestState[T]) error {
		sess = state.session
		return nil
	})
	return sess
}

// Put replaces the data of the request's session; Middleware saves it
// before the response header is written. It returns ErrNotFound when the
// request has no session (call Start first).
func (s *Store[T]) Put(ctx context.Context, data T) error {
	return s.inRequest(ctx, func(state *requestState[T]) error {
		if state.session == nil {
			return ErrNotFound
		}
		state.session.Data = data
		state.modified = true
		return nil
	})
}

// Start creates a session for userID holding data, makes it the request's
// session and sends its token in the cookie. Call it at login: any session
// the request already had is destroyed, so a token planted before login
// (session fixation) never becomes an authenticated one.
func (s *Store[T]) Start(ctx context.Context, userID string, data T) (*Session[T], error) {
	var sess *Session[T]
	err := s.inRequest(ctx, func(state *requestState[T]) error {
		var err error
		if sess, err = s.Create(ctx, userID, data); err != nil {
			return err
		}
		if old := state.session; old != nil {
			if err := s.Destroy(ctx, old.Token); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		state.session, state.modified, state.sendToken = sess, false, true
		return nil
	})
	return sess, err
}

// Renew moves the request's session to a new token (see Regenerate) and
// sends the new token in the cookie. Call it on every change of privilege.
// Data given to Put earlier in the request is stored with it. It returns
// ErrNotFound when the request has no session.
func (s *Store[T]) Renew(ctx context.Context) (*Session[T], error) {
	var sess *Session[T]
	err := s.inRequest(ctx, func(state *requestState[T]) error {
		if state.session == nil {
			return ErrNotFound
		}
		var err error
		if sess, err = s.Regenerate(ctx, state.session); err != nil {
			return err
		}
		state.session, state.modified, state.sendToken = sess, false, true
		return nil
	})
	return sess, err
}

// End destroys the request's session (logout) and clears the cookie. It is
// a no-op when the request has no session.
func (s *Store[T]) End(ctx context.Context) error {
	return s.inRequest(ctx, func(state *requestState[T]) error {
		if state.session == nil {
			return nil
		}
		if err := s.Destroy(ctx, state.session.Token); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		state.session, state.modified, state.sendToken, state.clearCookie = nil, false, false, true
		return nil
	})
}

// responseWriter commits the session (save, cookie) just before the
// response header is written.
type responseWriter[T any] struct {
	http.ResponseWriter
	store     *Store[T]
	state     *requestState[T]
	request   *http.Request
	committed bool
	failure   error // the commit failed and ErrorHandler wrote the response
}

// commit saves a modified session and sets the cookie, once. It reports
// whether the handler's response may proceed.
func (w *responseWriter[T]) commit() bool {
	if w.committed {
		return w.failure == nil
	}
	w.committed = true
	state := w.state
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.session != nil && state.modified {
		// The handler's work is done: save it even if the client has gone.
		ctx := context.WithoutCancel(w.request.Context())
		if err := w.store.Save(ctx, state.session); err != nil {
			w.failure = fmt.Errorf("session: response replaced by Options.ErrorHandler: %w", err)
			w.store.cfg.errorHandler(w.ResponseWriter, w.request, err)
			return false
		}
	}
	switch {
	case state.session != nil && state.sendToken:
		w.setCookie(w.store.cookie(state.session))
	case state.session == nil && state.clearCookie:
		w.setCookie(w.store.expiredCookie())
	}
	return true
}

func (w *responseWriter[T]) setCookie(c *http.Cookie) {
	h := w.Header()
	http.SetCookie(w, c)
	h.Add("Vary", "Cookie")
	h.Set("Cache-Control", `no-cache="Set-Cookie"`)
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
		return 0, w.failure
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
	c := s.baseCookie()
	c.Value = sess.Token
	if s.cfg.cookie.Persistent {
		c.Expires = sess.AbsoluteExpiresAt.UTC()
		c.MaxAge = max(1, int(time.Until(sess.AbsoluteExpiresAt).Seconds()))
	}
	return c
}

func (s *Store[T]) expiredCookie() *http.Cookie {
	c := s.baseCookie()
	c.Expires = time.Unix(1, 0).UTC()
	c.MaxAge = -1
	return c
}

func (s *Store[T]) baseCookie() *http.Cookie {
	o := &s.cfg.cookie
	return &http.Cookie{
		Name: o.Name, Path: o.Path, Domain: o.Domain,
		Secure: !o.Insecure, HttpOnly: true, SameSite: o.SameSite,
	}
}
