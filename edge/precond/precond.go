package precond

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Validators describes the selected (stored) representation.
type Validators struct {
	// ETag is the ETag field value as the origin sent it, such as `"abc"`
	// or `W/"abc"`; "" if none. A value that is not a valid entity-tag
	// counts as none.
	ETag string
	// LastModified is the Last-Modified field value; zero if none.
	LastModified time.Time
	// Date is the stored response's Date field value; zero if unknown.
	// Only IfRange uses it, to decide whether LastModified is a strong
	// validator (RFC 9110 §8.8.2.2).
	Date time.Time
}

// Result is the outcome of evaluating a request's preconditions.
type Result int

const (
	// Proceed means the request is served as if it were unconditional
	// (subject to IfRange for a Range request).
	Proceed Result = iota
	// NotModified means answer 304 (Not Modified).
	NotModified
	// PreconditionFailed means answer 412 (Precondition Failed).
	PreconditionFailed
)

// String returns the name of r.
func (r Result) String() string {
	switch r {
	case Proceed:
		return "Proceed"
	case NotModified:
		return "NotModified"
	case PreconditionFailed:
		return "PreconditionFailed"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Evaluate evaluates the preconditions of a request with the given method
// and header against the representation described by v, in the order of
// RFC 9110 §13.2.2:
//
//  1. If-Match, strong comparison, "*" matches: false gives 412.
//  2. Without If-Match, If-Unmodified-Since: Last-Modified later than the
//     date gives 412.
//  3. If-None-Match, weak comparison, "*" matches: a match gives 304 for
//     GET and HEAD, 412 otherwise.
//  4. Without If-None-Match, for GET and HEAD only, If-Modified-Since:
//     Last-Modified at or before the date gives 304.
//
// Methods are case-sensitive. CONNECT, OPTIONS and TRACE, which select no
// representation, always Proceed (RFC 9110 §13.2.1). See the package
// documentation for how malformed fields are treated. The keys of h must be
// in canonical form, as they are in a request received by net/http or in a
// header built with Set and Add.
func Evaluate(method string, h http.Header, v Validators) Result {
	switch method {
	case http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return Proceed
	}
	cur, hasCur := parseETag(v.ETag)
	safe := method == http.MethodGet || method == http.MethodHead

	if im, ok := listField(h, "If-Match"); ok {
		if !listMatches(im, cur, hasCur, strongMatch) {
			return PreconditionFailed
		}
	} else if t, ok := dateField(h, "If-Unmodified-Since"); ok && !v.LastModified.IsZero() {
		if lastModified(v).After(t) {
			return PreconditionFailed
		}
	}

	if inm, ok := listField(h, "If-None-Match"); ok {
		if listMatches(inm, cur, hasCur, weakMatch) {
			if safe {
				return NotModified
			}
			return PreconditionFailed
		}
	} else if safe { // If-Modified-Since applies to GET and HEAD only.
		if t, ok := dateField(h, "If-Modified-Since"); ok && !v.LastModified.IsZero() && !lastModified(v).After(t) {
			return NotModified
		}
	}
	return Proceed
}

// IfRange reports whether the Range field of a request may be honoured: true
// if the request has no If-Range field, or if its If-Range validator matches
// the representation (RFC 9110 §13.1.5):
//
//   - an entity-tag matches under strong comparison (a weak one never does);
//   - an HTTP-date matches if it equals Last-Modified to the second and
//     Last-Modified is strong: v.Date is at least one second after it.
//
// Anything else, including an empty, malformed or repeated If-Range field,
// is false: ignore the Range field and serve 200. RFC 9110 says to ignore
// If-Range in a request without Range; the caller only asks when there is
// one. As for Evaluate, the keys of h must be in canonical form.
func IfRange(h http.Header, v Validators) bool {
	vals := h["If-Range"]
	if len(vals) == 0 {
		return true
	}
	s := trimOWS(vals[0])
	if len(vals) > 1 || s == "" {
		return false
	}
	if s[0] == '"' || strings.HasPrefix(s, "W/") {
		t, ok := parseETag(s)
		if !ok {
			return false
		}
		cur, ok := parseETag(v.ETag)
		return ok && strongMatch(t, cur)
	}

	t, err := http.ParseTime(s)
	if err != nil || v.LastModified.IsZero() || v.Date.IsZero() {
		return false
	}
	lm := lastModified(v)
	if v.Date.Truncate(time.Second).Sub(lm) < time.Second {
		return false // Last-Modified is a weak validator
	}
	return t.Equal(lm)
}

// lastModified returns v.LastModified at the one-second resolution of an
// HTTP-date.
func lastModified(v Validators) time.Time {
	return v.LastModified.Truncate(time.Second)
}

// listField returns the field lines of the list field name, and false if
// there are none or all are empty or only OWS. It indexes h directly with the
// canonical name, as dateField and IfRange do, which skips
// CanonicalMIMEHeaderKey (most of Evaluate's cost when it did not).
func listField(h http.Header, name string) ([]string, bool) {
	vals := h[name]
	for _, s := range vals {
		if trimOWS(s) != "" {
			return vals, true
		}
	}
	return nil, false
}

// dateField returns the HTTP-date of the field name, and false if it is
// absent, sent on several lines, or not a valid HTTP-date.
func dateField(h http.Header, name string) (time.Time, bool) {
	vals := h[name]
	if len(vals) != 1 {
		return time.Time{}, false
	}
	t, err := http.ParseTime(trimOWS(vals[0]))
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
