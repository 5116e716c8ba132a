package precond

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// scanAll returns the elements listScanner finds in s, "*" for a star and
// the entity-tag as written (weak prefix included) otherwise.
func scanAll(t testing.TB, s string) []string {
	var got []string
	l := listScanner{s: s}
	for i := 0; ; i++ {
		if i > len(s)+1 {
			t.Fatalf("listScanner(%q) does not terminate", s)
		}
		tag, star, ok := l.next()
		if !ok {
			return got
		}
		if star {
			got = append(got, "*")
			continue
		}
		got = append(got, tag.String())
	}
}

// String returns t as it is written in a field.
func (t entityTag) String() string {
	if t.weak {
		return "W/" + t.opaque
	}
	return t.opaque
}

func TestListScanner(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{``, nil},
		{` , ,`, nil},
		{`"a"`, []string{`"a"`}},
		{`W/"a"`, []string{`W/"a"`}},
		{`""`, []string{`""`}},
		{`W/""`, []string{`W/""`}},
		{`*`, []string{"*"}},
		{` * `, []string{"*"}},
		{`"a","b"`, []string{`"a"`, `"b"`}},
		{"\t\"a\" ,\tW/\"b\" ,, \"c\"\t", []string{`"a"`, `W/"b"`, `"c"`}},
		{`"a,b", "c"`, []string{`"a,b"`, `"c"`}},
		{`"!#~"`, []string{`"!#~"`}},
		{"\"caf\xc3\xa9\"", []string{"\"caf\xc3\xa9\""}},
		{`*, "a"`, []string{"*", `"a"`}},

		// Malformed elements are skipped up to the next comma.
		{`a`, nil},
		{`a, "b"`, []string{`"b"`}},
		{`"a" "b", "c"`, []string{`"c"`}},
		{`"a"b, "c"`, []string{`"c"`}},
		{`w/"a", "b"`, []string{`"b"`}},
		{`W/ "a", "b"`, []string{`"b"`}},
		{`W/a, "b"`, []string{`"b"`}},
		{`"a b", "c"`, []string{`"c"`}},
		{`"a` + "\x7f" + `", "c"`, []string{`"c"`}},
		{`"a` + "\x00" + `", "c"`, []string{`"c"`}},
		{`"a\"b", "c"`, []string{`"c"`}},
		{`"a`, nil},
		{`"a, "b"`, []string{`"b"`}},
		{`**, "b"`, []string{`"b"`}},
		{`*"a", "b"`, []string{`"b"`}},
		{`"a";q=1, "b"`, []string{`"b"`}},
		{`W/`, nil},
		{`"`, nil},
	}
	for _, tt := range tests {
		if got := scanAll(t, tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("scan(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseETag(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" if invalid
	}{
		{`"abc"`, `"abc"`},
		{`W/"abc"`, `W/"abc"`},
		{` "abc"	`, `"abc"`},
		{`""`, `""`},
		{`abc`, ""},
		{`"abc`, ""},
		{`"abc"d`, ""},
		{`"a","b"`, ""},
		{`w/"abc"`, ""},
		{`W/`, ""},
		{``, ""},
		{`*`, ""},
	}
	for _, tt := range tests {
		tag, ok := parseETag(tt.in)
		if ok != (tt.want != "") || ok && tag.String() != tt.want {
			t.Errorf("parseETag(%q) = %q, %v; want %q", tt.in, tag.String(), ok, tt.want)
		}
	}
}

func TestComparison(t *testing.T) {
	// The table of RFC 9110 §8.8.3.2.
	tests := []struct {
		a, b         string
		strong, weak bool
	}{
		{`W/"1"`, `W/"1"`, false, true},
		{`W/"1"`, `W/"2"`, false, false},
		{`W/"1"`, `"1"`, false, true},
		{`"1"`, `"1"`, true, true},
	}
	for _, tt := range tests {
		a, _ := parseETag(tt.a)
		b, _ := parseETag(tt.b)
		if got := strongMatch(a, b); got != tt.strong {
			t.Errorf("strongMatch(%s, %s) = %v", tt.a, tt.b, got)
		}
		if got := weakMatch(a, b); got != tt.weak {
			t.Errorf("weakMatch(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}

// FuzzETagList checks the entity-tag list parser on any field line. The
// seed corpus is in testdata/fuzz/FuzzETagList.
func FuzzETagList(f *testing.F) {
	f.Add(`"a", W/"b", *`)
	f.Fuzz(func(t *testing.T, line string) {
		got := scanAll(t, line) // also checks termination
		for _, e := range got {
			if e == "*" {
				continue
			}
			if !strings.Contains(line, e) {
				t.Fatalf("scan(%q) returned %q, which is not in the input", line, e)
			}
			tag, ok := parseETag(e)
			if !ok || tag.String() != e {
				t.Fatalf("scan(%q) returned %q, which is not an entity-tag", line, e)
			}
			if !listMatches([]string{line}, tag, true, weakMatch) {
				t.Fatalf("listMatches(%q, %s) = false for an element of the list", line, e)
			}
			if !tag.weak && !listMatches([]string{line}, tag, true, strongMatch) {
				t.Fatalf("listMatches(%q, %s, strong) = false for a strong element of the list", line, e)
			}
		}
		// The elements found, written back as a list, scan to themselves.
		if again := scanAll(t, strings.Join(got, ", ")); !slices.Equal(again, got) {
			t.Fatalf("scan(%q) = %q, but scanning that joined gives %q", line, got, again)
		}
		// A single valid entity-tag is a one-element list.
		if tag, ok := parseETag(line); ok {
			if len(got) != 1 || got[0] != tag.String() {
				t.Fatalf("parseETag(%q) = %s, but the list scan gives %q", line, tag, got)
			}
		}
		// Without a current entity-tag, only "*" matches.
		if m := listMatches([]string{line}, entityTag{}, false, weakMatch); m != slices.Contains(got, "*") {
			t.Fatalf("listMatches(%q, none) = %v with elements %q", line, m, got)
		}
	})
}

// FuzzEvaluate checks that Evaluate and IfRange never panic and that
// Evaluate only answers 304 to GET and HEAD.
func FuzzEvaluate(f *testing.F) {
	f.Add("GET", `"abc"`, "", lmStr, "", `"abc"`, `"abc"`, lm.Unix())
	f.Add("PUT", "*", `W/"x", "y"`, "", before, lmStr, `W/"abc"`, int64(0))
	f.Fuzz(func(t *testing.T, method, inm, im, ims, ius, ifRange, etag string, lmUnix int64) {
		h := hdr("If-None-Match", inm, "If-Match", im, "If-Modified-Since", ims,
			"If-Unmodified-Since", ius, "If-Range", ifRange)
		v := Validators{ETag: etag}
		if lmUnix != 0 {
			v.LastModified = lm.Add(time.Duration(lmUnix%(1<<40)) * time.Millisecond)
			v.Date = v.LastModified.Add(time.Hour)
		}
		r := Evaluate(method, h, v)
		switch r {
		case Proceed, PreconditionFailed:
		case NotModified:
			if method != "GET" && method != "HEAD" {
				t.Fatalf("Evaluate(%q) = NotModified", method)
			}
		default:
			t.Fatalf("Evaluate returned %v", r)
		}
		_ = IfRange(h, v)
	})
}
