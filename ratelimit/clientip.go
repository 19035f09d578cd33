package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIPSource says where the address of the client that sent a request is
// read from. The zero value reads the connection's address (r.RemoteAddr)
// and no header: right when clients connect to this server directly, and the
// only safe choice when you do not know what sits in front of it, since
// anyone can send any header.
//
// Behind reverse proxies or load balancers the connection's address is the
// proxy's, so every client would share one limit. Then name the one header
// your proxies set and list their networks: the header is read only on
// connections from TrustedProxies, and there is no fallback to another
// header, so a client cannot pick its key by sending the header your proxy
// does not set.
type ClientIPSource struct {
	// Header names the header that carries the client's address, such as
	// "X-Forwarded-For", "X-Real-IP", "CF-Connecting-IP" or
	// "True-Client-IP". Its values are read as one comma-separated list,
	// walked from the right: each proxy appends the address it saw, so
	// entries that are themselves trusted proxies are skipped and the first
	// that is not is the client; entries to its left were written by the
	// client and are never read. A header your proxy sets (replacing what
	// the client sent) holds one entry, which is the client. Empty means no
	// header: the connection's address.
	Header string
	// TrustedProxies lists the networks of your own proxies. Header is read
	// only when the connection comes from one of them.
	TrustedProxies []netip.Prefix
}

// ClientIP returns the address of the client that sent r, as src says, for
// use as a rate limit key.
//
// It is the connection's address (r.RemoteAddr) unless src.Header is set and
// that address is in src.TrustedProxies. Then src.Header's entries are
// walked from the right, skipping trusted proxies; when every entry is
// trusted, the leftmost is taken; an empty entry stands for the hop to its
// right, so the result is never empty while r.RemoteAddr is not. Without the
// header, it is the connection's address: the proxy's.
//
// IPv4-mapped IPv6 addresses are returned as IPv4. An entry a trusted proxy
// wrote that is not an IP address (such as "unknown") is returned as it is;
// so is an unparsable r.RemoteAddr. A nil r has no client: "".
func ClientIP(r *http.Request, src ClientIPSource) string {
	if r == nil {
		return ""
	}
	remote, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if src.Header == "" || !trusted(remote, src.TrustedProxies) {
		return remote.String()
	}
	values := r.Header.Values(src.Header)
	if len(values) == 0 {
		return remote.String()
	}
	return rightmostUntrusted(strings.Join(values, ","), remote, src.TrustedProxies)
}

// rightmostUntrusted returns the rightmost untrusted entry of list, an
// address list whose sender, remote, is trusted; the leftmost entry when all
// are trusted. It never returns "": an empty entry stands for the hop to its
// right.
func rightmostUntrusted(list string, remote netip.Addr, trustedProxies []netip.Prefix) string {
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

// ClientKey returns the middleware's default key for r: the client's address
// as ClientIP reads it from src, with an IPv6 address reduced to its network
// of ipv6PrefixBits bits ("2001:db8:1:2::/64"), since one subscriber commonly
// holds a whole /64 and would otherwise get a fresh limit for each of its
// addresses. ipv6PrefixBits outside 1 to 128 means 64. IPv4 (and
// IPv4-mapped) addresses, and entries that are not addresses, are returned
// as ClientIP returns them. Use it in a MiddlewareOptions.Key that falls back
// to the client's address.
func ClientKey(r *http.Request, src ClientIPSource, ipv6PrefixBits int) string {
	ip := ClientIP(r, src)
	if ipv6PrefixBits < 1 || ipv6PrefixBits > 128 {
		ipv6PrefixBits = 64
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || ipv6PrefixBits == 128 {
		return ip
	}
	return netip.PrefixFrom(addr, ipv6PrefixBits).Masked().String()
}
