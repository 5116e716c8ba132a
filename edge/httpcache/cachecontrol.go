package httpcache

import (
	"strconv"
	"strings"
	"time"
)

// Directives are the parsed directives of a Cache-Control (or targeted
// cache control) field. A duration directive that is absent is -1.
type Directives struct {
	MaxAge, SMaxAge                    time.Duration
	MaxStale, MinFresh                 time.Duration
	StaleWhileRevalidate, StaleIfError time.Duration

	// MaxStaleAny is max-stale without a value: any staleness is accepted.
	MaxStaleAny bool

	NoCache, NoStore, NoTransform   bool
	Private, Public                 bool
	MustRevalidate, ProxyRevalidate bool
	OnlyIfCached, Immutable         bool
	present                         bool
}

// Present reports whether the field held at least one directive.
func (d Directives) Present() bool { return d.present }

// maxDelta caps delta-seconds as RFC 9111 §1.2.2 allows (2^31 seconds).
const maxDelta = time.Duration(1<<31) * time.Second

func absent() Directives {
	return Directives{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1,
		StaleWhileRevalidate: -1, StaleIfError: -1}
}

// ParseCacheControl parses every line of a Cache-Control field. Directive
// names are case-insensitive; unknown directives are ignored. A duration
// directive with an invalid value counts as 0, so a malformed max-age makes
// the response stale rather than fresh forever (RFC 9111 §4.2.1); when a
// duration directive repeats, the smallest value wins.
func ParseCacheControl(lines []string) Directives {
	d := absent()
	for _, line := range lines {
		for line != "" {
			var item string
			item, line = nextItem(line)
			name, value, hasValue := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			d.present = true
			value = unquote(strings.TrimSpace(value))
			switch name {
			case "max-age":
				d.MaxAge = minDelta(d.MaxAge, value)
			case "s-maxage":
				d.SMaxAge = minDelta(d.SMaxAge, value)
			case "max-stale":
				if !hasValue {
					d.MaxStaleAny = true
				} else {
					d.MaxStale = minDelta(d.MaxStale, value)
				}
			case "min-fresh":
				d.MinFresh = minDelta(d.MinFresh, value)
			case "stale-while-revalidate":
				d.StaleWhileRevalidate = minDelta(d.StaleWhileRevalidate, value)
			case "stale-if-error":
				d.StaleIfError = minDelta(d.StaleIfError, value)
			case "no-cache":
				// The qualified form (no-cache="Set-Cookie") is treated as
				// unqualified: revalidating always is the safe reading.
				d.NoCache = true
			case "no-store":
				d.NoStore = true
			case "no-transform":
				d.NoTransform = true
			case "private":
				// Likewise private="field" is treated as private.
				d.Private = true
			case "public":
				d.Public = true
			case "must-revalidate":
				d.MustRevalidate = true
			case "proxy-revalidate":
				d.ProxyRevalidate = true
			case "only-if-cached":
				d.OnlyIfCached = true
			case "immutable":
				d.Immutable = true
			}
		}
	}
	return d
}

// nextItem splits off the first comma-separated item, keeping commas inside
// quoted strings (no-cache="a, b").
func nextItem(s string) (item, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// parseDelta parses delta-seconds; anything invalid is 0.
func parseDelta(v string) time.Duration {
	if v == "" {
		return 0
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0
		}
	}
	// Leading zeros do not make a value large; more than ten digits do.
	v = strings.TrimLeft(v, "0")
	if len(v) > 10 {
		return maxDelta
	}
	var n int64
	if v != "" {
		n, _ = strconv.ParseInt(v, 10, 64) // at most ten digits: cannot fail
	}
	// Compare in seconds: n * time.Second overflows int64 above 2^63 ns.
	if n >= int64(maxDelta/time.Second) {
		return maxDelta
	}
	return time.Duration(n) * time.Second
}

func minDelta(cur time.Duration, v string) time.Duration {
	d := parseDelta(v)
	if cur >= 0 && cur < d {
		return cur
	}
	return d
}
