package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/typecache/typecache"
	"github.com/typecache/typecache/cache"
	"github.com/typecache/typecache/ratelimit"
	"github.com/typecache/typecache/session"
)

// Profile is what the API serves, cached in front of the slow database.
type Profile struct {
	UserID string    `json:"user_id"`
	Name   string    `json:"name"`
	Plan   string    `json:"plan"`
	Loaded time.Time `json:"loaded_at"`
}

// Visit is the data each session carries.
type Visit struct {
	Name    string    `json:"name"`
	LoginAt time.Time `json:"login_at"`
}

// app wires the three typecache packages into one net/http handler.
type app struct {
	profiles *cache.Cache[Profile]
	limit    func(http.Handler) http.Handler // the rate limit of /api/
	sessions *session.Store[Visit]
	metrics  http.Handler // the Prometheus scrape
	db       *profileDB
}

// newApp builds the handler. prefix starts the name of every cache, limiter
// and session store the app opens (and so every Redis key it writes), so
// several apps (or tests) can share a server.
func newApp(client *typecache.Client, prefix string, db *profileDB) (*app, error) {
	metrics, scrape, err := newMetrics()
	if err != nil {
		return nil, err
	}
	a := &app{metrics: scrape, db: db}
	a.profiles, err = cache.New[Profile](client, prefix+"profile", cache.Options[Profile]{
		TTL:      5 * time.Minute,
		Observer: metrics.CacheObserver(nil), // named prefix+"profile" by cache.New
	})
	if err != nil {
		return nil, err
	}
	limiter, err := ratelimit.New(client, ratelimit.Options{
		Limit:    5, // requests per client per minute on /api/: small, so curl reaches it
		Period:   time.Minute,
		Prefix:   prefix + "api",
		Observer: metrics.RateLimitObserver(nil),
	})
	if err == nil {
		a.limit, err = ratelimit.Middleware(limiter, ratelimit.MiddlewareOptions{Key: a.rateLimitKey})
	}
	if err == nil {
		a.sessions, err = session.New(client, session.Options[Visit]{
			IdleTimeout: 30 * time.Minute,
			Prefix:      prefix + "session",
			// Plain HTTP on localhost only: drop Insecure behind TLS.
			Cookie:   session.CookieOptions{Insecure: true},
			Observer: metrics.SessionObserver(nil),
		})
	}
	if err != nil {
		a.profiles.Close()
		return nil, err
	}
	return a, nil
}

// Close releases the cache's and the store's subscriptions; the client is
// the caller's.
func (a *app) Close() {
	a.profiles.Close()
	a.sessions.Close()
}

// rateLimitKey counts a request under its user, or its client's address
// before login.
func (a *app) rateLimitKey(r *http.Request) string {
	if s := a.sessions.Current(r.Context()); s != nil {
		return "user:" + s.UserID
	}
	// The connection's address: behind a reverse proxy, set
	// MiddlewareOptions.ClientIP and pass the same ClientIPSource here (the
	// header your proxy sets and its networks), or every client shares the
	// proxy's address.
	return "ip:" + ratelimit.ClientIP(r, ratelimit.ClientIPSource{})
}

// Handler returns the routes, with sessions loaded for every request and
// /api/ rate-limited per user (per client IP before login).
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /me", a.me)
	mux.Handle("GET /api/profile", a.limit(http.HandlerFunc(a.profile)))
	mux.HandleFunc("GET /debug/stats", a.stats)
	mux.Handle("GET /metrics", a.metrics)
	return a.sessions.Middleware(mux)
}

// login starts a session for the user. Start issues a new token and destroys
// any session the request came with, so a token planted before login (session
// fixation) never becomes an authenticated one.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	user := r.FormValue("user")
	if user == "" { // a real app checks a password here
		http.Error(w, "user is required", http.StatusBadRequest)
		return
	}
	sess, err := a.sessions.Start(r.Context(), user, Visit{Name: user, LoginAt: time.Now().UTC()})
	if err != nil {
		http.Error(w, "cannot start a session", http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]any{"user": sess.UserID, "expires_at": sess.ExpiresAt.UTC()})
}

// logout destroys the session in Redis and clears the cookie.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.End(r.Context()); err != nil {
		http.Error(w, "cannot end the session", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *app) me(w http.ResponseWriter, r *http.Request) {
	sess := a.sessions.Current(r.Context())
	if sess == nil {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	writeJSON(w, map[string]any{"user": sess.UserID, "session": sess.Data, "expires_at": sess.ExpiresAt.UTC()})
}

// profile serves the user's profile cache-aside: the database is asked once,
// later requests are served by Redis or the local tier.
func (a *app) profile(w http.ResponseWriter, r *http.Request) {
	sess := a.sessions.Current(r.Context())
	if sess == nil {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	p, err := a.profiles.Fetch(r.Context(), sess.UserID, cache.LoaderFunc[Profile](a.db.Load))
	switch {
	case errors.Is(err, cache.ErrNotFound):
		http.Error(w, "no such profile", http.StatusNotFound)
	case err != nil:
		http.Error(w, "cannot load the profile", http.StatusInternalServerError)
	default:
		writeJSON(w, p)
	}
}

func (a *app) stats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"cache": a.profiles.Stats(), "database_loads": a.db.loads.Load()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
