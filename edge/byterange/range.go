package byterange

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// MaxRanges is the most range-specs Parse accepts in one Range field; a field
// with more is ignored (the whole representation is served with 200).
//
// Real clients ask for one range (media players, download resumers) or a few
// (PDF viewers fetching page objects); sixteen is well above that. Keeping it
// small bounds the work Parse does per request, the number of parts and the
// multipart framing overhead of a 206 (about 100 bytes a part), and lets the
// overlap check stay a no-allocation quadratic scan. A client refused this
// way still gets a correct answer, only a larger one.
const MaxRanges = 16

// maxDigits is the most decimal digits accepted in a position or a length:
// 10^18-1 fits an int64 (max about 9.2*10^18), so no arithmetic overflows.
const maxDigits = 18

var (
	// ErrUnsatisfiable reports a well-formed Range field none of whose ranges
	// selects a byte of the representation: answer 416 with
	// Content-Range "bytes */size".
	ErrUnsatisfiable = errors.New("byterange: range not satisfiable")
	// ErrInvalid reports a malformed ranges-specifier. RFC 9110 §14.2 lets a
	// server reject it; the edge answers 416 as for ErrUnsatisfiable.
	ErrInvalid = errors.New("byterange: invalid range")
)

// Range is one satisfiable byte range: [Start, Start+Length).
// Ranges returned by Parse have Start >= 0, Length > 0 and
// Start+Length <= size.
type Range struct{ Start, Length int64 }

// ContentRange returns the Content-Range field value for r in a
// representation of size bytes, such as "bytes 0-99/1000".
func (r Range) ContentRange(size int64) string {
	var buf [64]byte
	return string(r.AppendContentRange(buf[:0], size))
}

// AppendContentRange appends r.ContentRange(size) to dst and returns the
// extended buffer.
func (r Range) AppendContentRange(dst []byte, size int64) []byte {
	dst = append(dst, "bytes "...)
	dst = strconv.AppendInt(dst, r.Start, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, r.Start+r.Length-1, 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, size, 10)
}

// UnsatisfiableContentRange returns the Content-Range field value of a 416
// answer for a representation of size bytes: "bytes */size".
func UnsatisfiableContentRange(size int64) string {
	return "bytes */" + strconv.FormatInt(size, 10)
}

// Parse interprets a Range header field value against a representation of
// size bytes. It returns one of:
//
//   - ranges, nil: serve 206 with one range, or multipart/byteranges with
//     several (they are disjoint and in request order);
//   - nil, nil: ignore the field and serve the whole representation with 200
//     (see the package documentation for exactly when);
//   - nil, ErrUnsatisfiable: well formed, but no range selects a byte (every
//     first-pos >= size, suffix lengths of 0, or size == 0);
//   - nil, ErrInvalid: malformed ("bytes=", "bytes=abc", "bytes=5-1",
//     "bytes=+1-2", a missing dash, a number of more than 18 digits, ...).
//
// Each range-spec is "first-last" (last clamped to size-1), "first-" (to the
// end) or "-suffix" (the last suffix bytes; the whole representation if
// suffix > size). OWS is allowed around "=", around each range-spec and
// around the commas, and empty list elements are skipped (RFC 9110 §5.6.1.2).
// Unsatisfiable range-specs are dropped when another one is satisfiable.
//
// Parse does not allocate when it returns a single range, provided the
// caller does not let the returned slice escape.
func Parse(header string, size int64) ([]Range, error) {
	// Parse is small enough to be inlined, so buf lives in the caller's
	// frame and the common single-range answer needs no heap allocation.
	var buf [1]Range
	return parse(buf[:0], header, size)
}

// parse is Parse appending its ranges to dst.
func parse(dst []Range, header string, size int64) ([]Range, error) {
	s := trimOWS(header)
	if s == "" || size < 0 {
		return nil, nil
	}
	eq := strings.IndexByte(s, '=')
	if eq < 0 {
		return nil, ErrInvalid
	}
	unit := trimOWS(s[:eq])
	if !isToken(unit) {
		return nil, ErrInvalid
	}
	if !equalFoldBytes(unit) {
		return nil, nil // RFC 9110 §14.2: ignore a unit we do not understand.
	}

	specs := 0 // non-empty range-specs seen
	rest := s[eq+1:]
	for {
		var spec string
		comma := strings.IndexByte(rest, ',')
		if comma < 0 {
			spec = rest
		} else {
			spec, rest = rest[:comma], rest[comma+1:]
		}
		if spec = trimOWS(spec); spec != "" {
			specs++
			if specs > MaxRanges {
				return nil, nil
			}
			r, ok, err := parseSpec(spec, size)
			if err != nil {
				return nil, err
			}
			if ok {
				if len(dst) == cap(dst) {
					// Several ranges: grow once to the most there can be.
					dst = slices.Grow(dst, MaxRanges-len(dst))
				}
				dst = append(dst, r)
			}
		}
		if comma < 0 {
			break
		}
	}

	switch {
	case specs == 0:
		return nil, ErrInvalid // range-set is 1#range-spec
	case len(dst) == 0:
		return nil, ErrUnsatisfiable
	case overlapping(dst):
		return nil, nil
	}
	return dst, nil
}

// parseSpec parses one non-empty range-spec. ok is false for a well-formed
// range-spec that selects no byte of a representation of size bytes.
func parseSpec(spec string, size int64) (r Range, ok bool, err error) {
	if spec[0] == '-' { // suffix-range
		n, valid := parseDigits(spec[1:])
		if !valid {
			return Range{}, false, ErrInvalid
		}
		if n == 0 || size == 0 {
			return Range{}, false, nil
		}
		n = min(n, size)
		return Range{Start: size - n, Length: n}, true, nil
	}

	dash := strings.IndexByte(spec, '-')
	if dash < 0 {
		return Range{}, false, ErrInvalid
	}
	first, valid := parseDigits(spec[:dash])
	if !valid {
		return Range{}, false, ErrInvalid
	}
	last := int64(-1) // absent: to the end
	if tail := spec[dash+1:]; tail != "" {
		if last, valid = parseDigits(tail); !valid || last < first {
			return Range{}, false, ErrInvalid
		}
	}
	if first >= size {
		return Range{}, false, nil
	}
	if last < 0 || last >= size {
		last = size - 1
	}
	return Range{Start: first, Length: last - first + 1}, true, nil
}

// parseDigits parses 1*DIGIT of at most maxDigits digits. Signs, spaces and
// anything else make it fail.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > maxDigits {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// overlapping reports whether any two ranges share a byte. len(rs) is at
// most MaxRanges, so the quadratic scan is cheap and allocates nothing.
func overlapping(rs []Range) bool {
	for i := 1; i < len(rs); i++ {
		a := rs[i]
		for _, b := range rs[:i] {
			if a.Start < b.Start+b.Length && b.Start < a.Start+a.Length {
				return true
			}
		}
	}
	return false
}

// trimOWS removes leading and trailing OWS (SP and HTAB).
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// equalFoldBytes reports whether unit is "bytes", ignoring ASCII case.
func equalFoldBytes(unit string) bool {
	const want = "bytes"
	if len(unit) != len(want) {
		return false
	}
	for i := 0; i < len(want); i++ {
		if unit[i]|0x20 != want[i] {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 token: 1*tchar.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
