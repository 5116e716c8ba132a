package edge

import (
	"net/url"
	"strings"
)

// cleanQuery percent-encodes the bytes of a raw query that may not appear
// in an HTTP/1.1 request target (RFC 9112 §3.2, RFC 3986 §3.4): spaces,
// control characters, DEL, non-ASCII bytes, '#', the other delimiters
// RFC 3986 excludes, and a '%' that does not start an escape. HTTP/2 and
// HTTP/3 carry the target in a :path field that may hold most of these,
// and written raw on the HTTP/1.1 hop upstream a space would end the
// target ("GET /x?a HTTP/1.1 HTTP/1.1"). '[' and ']' stay as they are, as
// net/url leaves them in paths: browsers send them raw (a[]=1) and origins
// expect them. It returns q itself when nothing needs encoding, the common
// case, and is idempotent, so a shield's key of the cleaned query equals
// the edge's.
func cleanQuery(q string) string {
	i := 0
	for i < len(q) && queryByteOK(q, i) {
		i++
	}
	if i == len(q) {
		return q
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(q) + 16)
	b.WriteString(q[:i])
	for ; i < len(q); i++ {
		if c := q[i]; queryByteOK(q, i) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}

// queryByteOK reports whether q[i] may stay as it is in a query: pchar,
// '/', '?' (RFC 3986 §3.4), '[' and ']', or the '%' of a valid escape.
func queryByteOK(q string, i int) bool {
	switch c := q[i]; {
	case isUnreserved(c):
		return true
	case c == '%':
		return i+2 < len(q) && isHex(q[i+1]) && isHex(q[i+2])
	}
	return strings.IndexByte("!$&'()*+,;=:@/?[]", q[i]) >= 0
}

// redirectTarget is the path and query of u to put after the site's own
// scheme and authority in a redirect, or false when u is not an absolute
// path (an opaque "http:@evil.com", "*", ...): those must never be
// glued to the host, where "https://host:8443" + "@evil.com" would name
// evil.com. Leading slashes are folded to one, so the result is never
// read as a network-path reference ("//evil.com/x").
func redirectTarget(u *url.URL) (string, bool) {
	if u.Opaque != "" {
		return "", false
	}
	p := u.EscapedPath()
	if p == "" && u.Host != "" {
		p = "/" // absolute-form without a path (RFC 9112 §3.2.2)
	}
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	p = "/" + strings.TrimLeft(p, "/")
	if u.RawQuery != "" || u.ForceQuery {
		p += "?" + cleanQuery(u.RawQuery)
	}
	return p, true
}
