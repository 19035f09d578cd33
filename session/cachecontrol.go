package session

import (
	"net/http"
	"strings"
)

// keepFromSharedCaches makes a response that depends on a session
// uncacheable by shared caches, merging into the directives the handler
// set: "Vary: Cookie" always; "private" when the handler set no
// Cache-Control; and, when noStore (a response that sets or clears the
// session cookie, or one served without the session it should have had),
// "private" and "no-store" whatever the handler set (a stored Set-Cookie
// would hand one user's session to the next), "public" removed.
func keepFromSharedCaches(h http.Header, noStore bool) {
	if !hasToken(h.Values("Vary"), "Cookie") && !hasToken(h.Values("Vary"), "*") {
		h.Add("Vary", "Cookie")
	}
	directives := splitList(h.Values("Cache-Control"))
	switch {
	case noStore:
		directives = removeDirective(directives, "public")
		directives = addDirective(directives, "private")
		directives = addDirective(directives, "no-store")
	case len(directives) == 0:
		directives = []string{"private"}
	default:
		return // the handler chose; Vary: Cookie keys shared caches by session
	}
	h.Set("Cache-Control", strings.Join(directives, ", "))
}

// splitList splits comma-separated header values into trimmed elements,
// keeping a quoted string (no-cache="Set-Cookie, X") in one piece.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		start, quoted := 0, false
		for i := 0; i <= len(v); i++ {
			if i < len(v) && v[i] == '"' {
				quoted = !quoted
			}
			if i == len(v) || v[i] == ',' && !quoted {
				if e := strings.TrimSpace(v[start:i]); e != "" {
					out = append(out, e)
				}
				start = i + 1
			}
		}
	}
	return out
}

// directiveName is a Cache-Control directive's name, lower-cased.
func directiveName(d string) string {
	name, _, _ := strings.Cut(d, "=")
	return strings.ToLower(strings.TrimSpace(name))
}

func hasToken(values []string, token string) bool {
	for _, e := range splitList(values) {
		if strings.EqualFold(e, token) {
			return true
		}
	}
	return false
}

func addDirective(directives []string, name string) []string {
	for _, d := range directives {
		if directiveName(d) == name {
			return directives
		}
	}
	return append(directives, name)
}

func removeDirective(directives []string, name string) []string {
	out := directives[:0]
	for _, d := range directives {
		if directiveName(d) != name {
			out = append(out, d)
		}
	}
	return out
}
