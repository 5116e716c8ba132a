package edge

import (
	"net/url"
	"strings"
)

// cacheKey is the primary key of a request: scheme, normalized host, path
// and query. Percent-encodings are normalized (RFC 3986 §6.2.2: upper-case
// hex, unreserved characters decoded) so that equivalent URIs share one
// entry; the query's parameter order is kept, since origins may depend on
// it. The query is cleaned as it is sent upstream (cleanQuery), so a raw
// and an encoded form share one entry, and a shield's key of the request
// an edge sends it is the edge's key.
func cacheKey(scheme, host string, u *url.URL) string {
	p := normalizeEscapes(u.EscapedPath())
	if p == "" {
		p = "/"
	}
	q := u.RawQuery
	if q != "" {
		q = normalizeEscapes(cleanQuery(q))
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + len(p) + len(q) + 1)
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(p)
	if q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String()
}

// normalizeEscapes upper-cases percent-encoding hex digits and decodes
// percent-encoded unreserved characters. It returns s itself when there is
// nothing to change, which is the common case.
func normalizeEscapes(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		v := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(s[i+1 : i+3]))
		}
		i += 2
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// sameHostTarget resolves a Location or Content-Location value against the
// request URL and reports its path and query when it names the same host
// (RFC 9111 §4.4 invalidates only those).
func sameHostTarget(base *url.URL, host, ref string) (*url.URL, bool) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, false
	}
	u = base.ResolveReference(u)
	if u.Host != "" && normalizeHost(u.Host) != host {
		return nil, false
	}
	return u, true
}
