package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// Policy is the cache policy of one site. The zero value stores only
// responses with explicit freshness or a validator, with no heuristic.
type Policy struct {
	// DefaultTTL is the freshness of a cacheable response that carries no
	// explicit freshness and no Last-Modified.
	DefaultTTL time.Duration
	// HeuristicFraction of (Date - Last-Modified) is the heuristic
	// freshness (RFC 9111 §4.2.2), capped at HeuristicMax.
	HeuristicFraction float64
	HeuristicMax      time.Duration
	// StaleWhileRevalidate and StaleIfError apply when a response does not
	// carry the directive itself (RFC 5861).
	StaleWhileRevalidate, StaleIfError time.Duration
	// StoreSetCookie stores responses that carry Set-Cookie, with the
	// cookie removed. When false such responses are never stored.
	StoreSetCookie bool
	// IgnoreRequestDirectives ignores the client's Cache-Control and Pragma
	// (no-cache, no-store, max-age, min-fresh, max-stale), so no client can
	// make the cache skip its stored copy and load the origin. Only
	// only-if-cached, which never reaches the origin, is still obeyed.
	IgnoreRequestDirectives bool
}

// TargetedFields are the targeted cache-control fields this cache obeys,
// in precedence order (RFC 9213 §2.2). When one is present with a
// directive, Cache-Control and Expires are ignored for the cache's own
// policy.
var TargetedFields = []string{"Cdn-Cache-Control", "Surrogate-Control"}

// Decision says whether a response may be stored and for how long.
type Decision struct {
	Store bool
	// Reason says why a response is not stored ("no-store", "private", ...).
	Reason string
	// Lifetime is the freshness lifetime (RFC 9111 §4.2.1).
	Lifetime time.Duration
	// StaleWhileRevalidate and StaleIfError are the stale windows that
	// apply after Lifetime; both are 0 when MustRevalidate is set.
	StaleWhileRevalidate, StaleIfError time.Duration
	// MustRevalidate forbids serving the response once stale without a
	// successful revalidation (must-revalidate, proxy-revalidate, s-maxage).
	MustRevalidate bool
	// NoCache requires a revalidation before every use.
	NoCache bool
	// StripSetCookie says the stored copy must not carry Set-Cookie.
	StripSetCookie bool
}

// heuristicStatus are the status codes that are cacheable by default
// (RFC 9110 §15.1).
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// ResponseDirectives returns the directives that govern this cache's use
// of a response: the first targeted field that holds a directive, else
// Cache-Control. targeted reports which one applied. CDN-Cache-Control is
// a Structured Field (RFC 9213 §2.1): one that is empty, does not parse,
// or has a directive of the wrong type is ignored as a whole.
// Surrogate-Control predates Structured Fields and is read with the
// Cache-Control syntax.
func ResponseDirectives(h http.Header) (d Directives, targeted bool) {
	for _, f := range TargetedFields {
		v := h[f]
		if len(v) == 0 {
			continue
		}
		if f == "Cdn-Cache-Control" {
			if d, ok := ParseCDNCacheControl(v); ok {
				return d, true
			}
		} else if d := ParseCacheControl(v); d.Present() {
			return d, true
		}
	}
	return ParseCacheControl(h["Cache-Control"]), false
}

// Decide applies RFC 9111 §3 to a response to a GET (or a HEAD answered
// by a GET) and computes its freshness. responseTime is when the response
// headers arrived.
func (p Policy) Decide(reqHeader http.Header, status int, h http.Header, responseTime time.Time) Decision {
	if status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified {
		return Decision{Reason: "status"}
	}
	cc, targeted := ResponseDirectives(h)
	switch {
	case cc.NoStore:
		return Decision{Reason: "no-store"}
	case cc.Private:
		return Decision{Reason: "private"}
	}
	if reqCC := ParseCacheControl(reqHeader["Cache-Control"]); reqCC.NoStore && !p.IgnoreRequestDirectives {
		return Decision{Reason: "request-no-store"}
	}
	if reqHeader.Get("Authorization") != "" && !cc.Public && cc.SMaxAge < 0 && !cc.MustRevalidate {
		return Decision{Reason: "authorization"}
	}
	for _, v := range h["Vary"] {
		if strings.Contains(v, "*") {
			return Decision{Reason: "vary-star"}
		}
	}
	d := Decision{Store: true}
	if len(h["Set-Cookie"]) > 0 {
		if !p.StoreSetCookie {
			return Decision{Reason: "set-cookie"}
		}
		d.StripSetCookie = true
	}

	date := responseTime
	if t, ok := ParseHTTPDate(h.Get("Date"), responseTime); ok {
		date = t
	}
	explicit := true
	switch {
	case cc.SMaxAge >= 0:
		d.Lifetime = cc.SMaxAge
	case cc.MaxAge >= 0:
		d.Lifetime = cc.MaxAge
	case !targeted && len(h["Expires"]) > 0:
		d.Lifetime = expiresLifetime(h["Expires"], date, responseTime)
	default:
		explicit = false
	}
	if !explicit {
		if !heuristicStatus(status) && !cc.Public {
			return Decision{Reason: "no-freshness"}
		}
		d.Lifetime = p.heuristic(h, date, responseTime)
	}

	d.MustRevalidate = cc.MustRevalidate || cc.ProxyRevalidate || cc.SMaxAge >= 0
	d.NoCache = cc.NoCache
	if !d.MustRevalidate && !d.NoCache {
		d.StaleWhileRevalidate = orDefault(cc.StaleWhileRevalidate, p.StaleWhileRevalidate)
		d.StaleIfError = orDefault(cc.StaleIfError, p.StaleIfError)
	}
	// A response that is never fresh and cannot be revalidated is worth
	// keeping only for a stale window its origin asked for: the fleet-wide
	// stale-if-error default alone would store (and rewrite) it on every
	// request.
	if d.Lifetime <= 0 && d.StaleWhileRevalidate <= 0 && cc.StaleIfError <= 0 &&
		h.Get("ETag") == "" && h.Get("Last-Modified") == "" {
		return Decision{Reason: "stale-no-validator"}
	}
	return d
}

// expiresLifetime is the freshness an Expires field gives (RFC 9111
// §5.3): one HTTP-date, counted from date. Anything else, an invalid date
// ("0"), several field lines or a list, means already expired.
func expiresLifetime(lines []string, date, now time.Time) time.Duration {
	if len(lines) != 1 {
		return 0
	}
	t, ok := ParseHTTPDate(lines[0], now)
	if !ok || !t.After(date) {
		return 0
	}
	return t.Sub(date)
}

func (p Policy) heuristic(h http.Header, date, now time.Time) time.Duration {
	lm, ok := ParseHTTPDate(h.Get("Last-Modified"), now)
	if !ok || !lm.Before(date) || p.HeuristicFraction <= 0 {
		return p.DefaultTTL
	}
	f := time.Duration(float64(date.Sub(lm)) * p.HeuristicFraction)
	if p.HeuristicMax > 0 && f > p.HeuristicMax {
		f = p.HeuristicMax
	}
	return f
}

func orDefault(d, def time.Duration) time.Duration {
	if d >= 0 {
		return d
	}
	return def
}

// InitialAge is the corrected initial age of a response (RFC 9111 §4.2.3):
// the larger of its apparent age and its Age header plus the time the
// request took.
func InitialAge(h http.Header, requestTime, responseTime time.Time) time.Duration {
	apparent := time.Duration(0)
	if date, ok := ParseHTTPDate(h.Get("Date"), responseTime); ok && responseTime.After(date) {
		apparent = responseTime.Sub(date)
	}
	ageValue := parseAge(h["Age"])
	delay := responseTime.Sub(requestTime)
	if delay < 0 {
		delay = 0
	}
	return max(apparent, ageValue+delay)
}

// parseAge reads an Age field (RFC 9111 §5.1). Age is a singleton, but a
// sender that combined two (or a proxy that appended its own) sends a
// list: the first member counts, and empty members are skipped (RFC 9110
// §5.6.1). The value is delta-seconds: anything invalid is 0, anything
// huge 2^31 s.
func parseAge(lines []string) time.Duration {
	for _, line := range lines {
		for line != "" {
			var member string
			member, line, _ = strings.Cut(line, ",")
			if member = strings.Trim(member, " \t"); member != "" {
				return parseDelta(member)
			}
		}
	}
	return 0
}
