package precond

import "strings"

// entityTag is a parsed entity-tag (RFC 9110 §8.8.3).
type entityTag struct {
	weak bool
	// opaque is the opaque-tag with its quotes, e.g. `"abc"`.
	opaque string
}

// parseETag parses a whole field value holding exactly one entity-tag, with
// optional OWS around it.
func parseETag(s string) (entityTag, bool) {
	t, rest, ok := scanETag(trimOWS(s))
	if !ok || rest != "" {
		return entityTag{}, false
	}
	return t, true
}

// scanETag parses the entity-tag at the start of s and returns it with the
// rest of s.
//
//	entity-tag = [ weak ] opaque-tag
//	weak       = %s"W/"
//	opaque-tag = DQUOTE *etagc DQUOTE
//	etagc      = %x21 / %x23-7E / obs-text
func scanETag(s string) (t entityTag, rest string, ok bool) {
	if strings.HasPrefix(s, "W/") {
		t.weak = true
		s = s[2:]
	}
	if s == "" || s[0] != '"' {
		return entityTag{}, "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			t.opaque = s[:i+1]
			return t, s[i+1:], true
		case c == 0x21, 0x23 <= c && c <= 0x7e, c >= 0x80:
		default:
			return entityTag{}, "", false
		}
	}
	return entityTag{}, "", false
}

// strongMatch is the strong comparison of RFC 9110 §8.8.3.2: both tags are
// strong and their opaque-tags are identical.
func strongMatch(a, b entityTag) bool {
	return !a.weak && !b.weak && a.opaque == b.opaque
}

// weakMatch is the weak comparison: the opaque-tags are identical.
func weakMatch(a, b entityTag) bool { return a.opaque == b.opaque }

// listScanner walks the elements of one If-Match or If-None-Match field line:
//
//	If-Match = "*" / #entity-tag
//
// Empty elements are skipped (RFC 9110 §5.6.1.2), and so is each malformed
// element, up to the first comma after its start. A "*" element is reported
// wherever it appears in the list.
type listScanner struct{ s string }

// next returns the next well-formed element: star is true for "*", t is set
// otherwise. ok is false when the line has no more elements.
func (l *listScanner) next() (t entityTag, star, ok bool) {
	for {
		s := l.s
		for s != "" && (s[0] == ' ' || s[0] == '\t' || s[0] == ',') {
			s = s[1:]
		}
		if s == "" {
			l.s = ""
			return entityTag{}, false, false
		}
		if s[0] == '*' {
			if rest := trimLeftOWS(s[1:]); rest == "" || rest[0] == ',' {
				l.s = rest
				return entityTag{}, true, true
			}
		} else if tag, rest, good := scanETag(s); good {
			if rest = trimLeftOWS(rest); rest == "" || rest[0] == ',' {
				l.s = rest
				return tag, false, true
			}
		}
		// Malformed: resume after the first comma of this element. s[0]
		// is not a comma, so the scan always moves forward.
		i := strings.IndexByte(s, ',')
		if i < 0 {
			l.s = ""
			return entityTag{}, false, false
		}
		l.s = s[i+1:]
	}
}

// listMatches reports whether any element of the list field lines matches
// the current entity-tag cur under match. "*" always matches (the
// representation exists). If hasCur is false, only "*" matches.
func listMatches(lines []string, cur entityTag, hasCur bool, match func(a, b entityTag) bool) bool {
	for _, line := range lines {
		l := listScanner{s: line}
		for {
			t, star, ok := l.next()
			if !ok {
				break
			}
			if star || hasCur && match(t, cur) {
				return true
			}
		}
	}
	return false
}

// trimOWS removes leading and trailing OWS (SP and HTAB).
func trimOWS(s string) string {
	s = trimLeftOWS(s)
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// trimLeftOWS removes leading OWS.
func trimLeftOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}
