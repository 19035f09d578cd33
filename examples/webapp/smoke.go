package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
)

// smoke walks through the app as a browser would, against the server at
// base, printing each exchange to out: login, cached reads, the rate limit's
// 429, a second login that retires the first token, and logout. It returns
// an error at the first response that is not what the app promises.
func smoke(base string, out io.Writer) error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	b := &browser{base: base, out: out, http: &http.Client{Jar: jar}}

	if _, err := b.expect("GET", "/me", nil, http.StatusUnauthorized); err != nil {
		return err
	}
	login, err := b.expect("POST", "/login", url.Values{"user": {"ada"}}, http.StatusOK)
	if err != nil {
		return err
	}
	first := sessionCookie(login)
	if first == nil || !first.HttpOnly || first.SameSite != http.SameSiteLaxMode || first.Path != "/" {
		return fmt.Errorf("login: want an HttpOnly, SameSite=Lax, Path=/ session cookie, got %q", login.Header.Get("Set-Cookie"))
	}
	if _, err := b.expect("GET", "/me", nil, http.StatusOK); err != nil {
		return err
	}

	// Five requests per minute on /api/: two reads of the profile (one load),
	// then more until the limiter says no.
	for range 2 {
		res, err := b.expect("GET", "/api/profile", nil, http.StatusOK)
		if err != nil {
			return err
		}
		if res.Header.Get("RateLimit-Policy") == "" || res.Header.Get("RateLimit") == "" {
			return fmt.Errorf("/api/profile: RateLimit-Policy and RateLimit fields missing")
		}
	}
	var stats struct {
		DatabaseLoads int64 `json:"database_loads"`
	}
	if err := b.getJSON("/debug/stats", &stats); err != nil {
		return err
	}
	if stats.DatabaseLoads != 1 {
		return fmt.Errorf("two profile reads made %d database loads, want 1 (the second must be cached)", stats.DatabaseLoads)
	}
	fmt.Fprintf(out, "database loads after two profile reads: %d\n", stats.DatabaseLoads)
	denied := false
	for range 5 {
		res, err := b.do("GET", "/api/profile", nil)
		if err != nil {
			return err
		}
		if res.StatusCode == http.StatusTooManyRequests {
			if res.Header.Get("Retry-After") == "" {
				return fmt.Errorf("429 without Retry-After")
			}
			denied = true
			break
		}
	}
	if !denied {
		return fmt.Errorf("/api/profile: 7 requests, none denied with a limit of 5 per minute")
	}

	// The scrape counts what the walk-through did so far.
	metrics, err := b.get("/metrics")
	if err != nil {
		return err
	}
	for _, c := range []struct {
		what, series, label string
		want                int
	}{
		{"cache loads", "typecache_cache_loads_total", `typecache_cache_load_result="ok"`, 1},
		{"rate-limit denials", "typecache_ratelimit_decisions_total", `typecache_ratelimit_outcome="denied"`, 1},
		{"sessions created", "typecache_session_events_total", `typecache_session_event="created"`, 1},
	} {
		got, ok := scraped(metrics, c.series, c.label)
		if !ok || got != c.want {
			return fmt.Errorf("/metrics: %s{%s} = %d (found: %v), want %d", c.series, c.label, got, ok, c.want)
		}
		fmt.Fprintf(out, "metrics: %s %d\n", c.what, got)
	}

	// Logging in again issues a new token; the old one stops working.
	relogin, err := b.expect("POST", "/login", url.Values{"user": {"ada"}}, http.StatusOK)
	if err != nil {
		return err
	}
	if second := sessionCookie(relogin); second == nil || second.Value == first.Value {
		return fmt.Errorf("second login did not issue a new token")
	}
	if _, err := b.withCookie(first).expect("GET", "/me", nil, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("old token after a new login: %w", err)
	}

	if _, err := b.expect("POST", "/logout", nil, http.StatusNoContent); err != nil {
		return err
	}
	_, err = b.expect("GET", "/me", nil, http.StatusUnauthorized)
	return err
}

// browser sends requests with a cookie jar and prints each exchange.
type browser struct {
	base string
	out  io.Writer
	http *http.Client
}

// withCookie returns a browser without a jar that sends only c.
func (b *browser) withCookie(c *http.Cookie) *browser {
	return &browser{base: b.base, out: b.out, http: &http.Client{Jar: fixedJar{c}}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	fmt.Fprintf(b.out, "%s %s -> %s", method, path, res.Status)
	for _, name := range []string{"RateLimit-Policy", "RateLimit", "Retry-After"} {
		if v := res.Header.Get(name); v != "" {
			fmt.Fprintf(b.out, " | %s: %s", name, v)
		}
	}
	if c := sessionCookie(res); c != nil {
		fmt.Fprintf(b.out, " | Set-Cookie: %s=<%d chars>", c.Name, len(c.Value))
	}
	fmt.Fprintln(b.out)
	return res, nil
}

func (b *browser) expect(method, path string, form url.Values, status int) (*http.Response, error) {
	res, err := b.do(method, path, form)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != status {
		return nil, fmt.Errorf("%s %s: status %d, want %d", method, path, res.StatusCode, status)
	}
	return res, nil
}

// get returns the body of a GET of path.
func (b *browser) get(path string) (string, error) {
	res, err := b.http.Get(b.base + path)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return string(body), err
}

// scraped returns the value of the series of metric name whose labels
// include label, in a scrape in Prometheus's text format.
func scraped(scrape, name, label string) (int, bool) {
	for _, line := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, label) {
			v, err := strconv.Atoi(line[strings.LastIndexByte(line, ' ')+1:])
			return v, err == nil
		}
	}
	return 0, false
}

func (b *browser) getJSON(path string, v any) error {
	res, err := b.http.Get(b.base + path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(v)
}

func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "session" {
			return c
		}
	}
	return nil
}

// fixedJar sends one cookie with every request and keeps none.
type fixedJar struct{ c *http.Cookie }

func (j fixedJar) SetCookies(*url.URL, []*http.Cookie) {}
func (j fixedJar) Cookies(*url.URL) []*http.Cookie     { return []*http.Cookie{j.c} }
