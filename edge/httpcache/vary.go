package httpcache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ParseVary returns the canonical field names of a response's Vary header,
// sorted and without duplicates; nil when it has none. "*" is kept.
func ParseVary(h http.Header) []string {
	var names []string
	for _, line := range h["Vary"] {
		for _, f := range strings.Split(line, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			names = append(names, http.CanonicalHeaderKey(f))
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// VaryKey is the secondary cache key of a request for a response that
// varies on names: each named field's normalized value.
func VaryKey(names []string, h http.Header) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(NormalizeField(n, h[n]))
		b.WriteByte('\n')
	}
	return b.String()
}

// NormalizeField folds a request field's values into the form used in a
// secondary key: lines joined with ", ", each element trimmed, and
// Accept-Encoding reduced to the one coding the edge would pick.
func NormalizeField(name string, values []string) string {
	if name == "Accept-Encoding" {
		return NormalizeAcceptEncoding(values)
	}
	parts := make([]string, 0, len(values))
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
	}
	return strings.Join(parts, ", ")
}

// NormalizeAcceptEncoding reduces an Accept-Encoding field to the codings
// the edge distinguishes: "br, gzip", "br", "gzip" or "" (identity).
// Folding keeps the number of variants per URL small whatever clients
// send; the folded value is also what the edge sends upstream, so a stored
// variant is always the answer to exactly the request it is served for.
func NormalizeAcceptEncoding(values []string) string {
	// "*" stands only for the codings the field does not name
	// (RFC 9110 §12.5.3), so "gzip;q=0, *" still refuses gzip.
	var brOK, brNamed, gzipOK, gzipNamed, starOK bool
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(p, ";")
			ok := !zeroQ(params)
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "br":
				brNamed, brOK = true, brOK || ok
			case "gzip", "x-gzip":
				gzipNamed, gzipOK = true, gzipOK || ok
			case "*":
				starOK = starOK || ok
			}
		}
	}
	br := brOK || (!brNamed && starOK)
	gzip := gzipOK || (!gzipNamed && starOK)
	switch {
	case br && gzip:
		return "br, gzip"
	case br:
		return "br"
	case gzip:
		return "gzip"
	}
	return ""
}

// zeroQ reports whether parameters say q=0 (the coding is refused).
func zeroQ(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}
