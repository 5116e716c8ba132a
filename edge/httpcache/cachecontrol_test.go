package httpcache

import (
	"strings"
	"testing"
	"time"
)

// dirs returns the parse of a field that held directives, changed by set.
func dirs(set func(d *Directives)) Directives {
	d := absent()
	d.present = true
	if set != nil {
		set(&d)
	}
	return d
}

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  Directives // non-empty: fails until this bug is fixed
	}{
		// No directives at all.
		{name: "nil", lines: nil, want: absent()},
		{name: "empty line", lines: []string{""}, want: absent()},
		{name: "whitespace", lines: []string{" \t "}, want: absent()},
		{name: "only commas", lines: []string{", ,,\t,"}, want: absent()},
		{name: "value without name", lines: []string{"=5"}, want: absent()},
		{name: "empty lines", lines: []string{"", " ", ","}, want: absent()},

		// Every directive on its own.
		{name: "max-age", lines: []string{"max-age=60"}, want: dirs(func(d *Directives) { d.MaxAge = secs(60) })},
		{name: "s-maxage", lines: []string{"s-maxage=30"}, want: dirs(func(d *Directives) { d.SMaxAge = secs(30) })},
		{name: "max-stale without value", lines: []string{"max-stale"}, want: dirs(func(d *Directives) { d.MaxStaleAny = true })},
		{name: "max-stale with value", lines: []string{"max-stale=10"}, want: dirs(func(d *Directives) { d.MaxStale = secs(10) })},
		{name: "max-stale with empty value", lines: []string{"max-stale="}, want: dirs(func(d *Directives) { d.MaxStale = 0 })},
		{name: "max-stale both forms", lines: []string{"max-stale, max-stale=10"},
			want: dirs(func(d *Directives) { d.MaxStaleAny = true; d.MaxStale = secs(10) })},
		{name: "min-fresh", lines: []string{"min-fresh=5"}, want: dirs(func(d *Directives) { d.MinFresh = secs(5) })},
		{name: "stale-while-revalidate", lines: []string{"stale-while-revalidate=30"},
			want: dirs(func(d *Directives) { d.StaleWhileRevalidate = secs(30) })},
		{name: "stale-if-error", lines: []string{"stale-if-error=300"}, want: dirs(func(d *Directives) { d.StaleIfError = secs(300) })},
		{name: "no-cache", lines: []string{"no-cache"}, want: dirs(func(d *Directives) { d.NoCache = true })},
		{name: "no-store", lines: []string{"no-store"}, want: dirs(func(d *Directives) { d.NoStore = true })},
		{name: "no-transform", lines: []string{"no-transform"}, want: dirs(func(d *Directives) { d.NoTransform = true })},
		{name: "private", lines: []string{"private"}, want: dirs(func(d *Directives) { d.Private = true })},
		{name: "public", lines: []string{"public"}, want: dirs(func(d *Directives) { d.Public = true })},
		{name: "must-revalidate", lines: []string{"must-revalidate"}, want: dirs(func(d *Directives) { d.MustRevalidate = true })},
		{name: "proxy-revalidate", lines: []string{"proxy-revalidate"}, want: dirs(func(d *Directives) { d.ProxyRevalidate = true })},
		{name: "only-if-cached", lines: []string{"only-if-cached"}, want: dirs(func(d *Directives) { d.OnlyIfCached = true })},
		{name: "immutable", lines: []string{"immutable"}, want: dirs(func(d *Directives) { d.Immutable = true })},
		{name: "unknown directive", lines: []string{"foo=bar, x-ext"}, want: dirs(nil)},
		{name: "unknown beside known", lines: []string{"foo=bar, max-age=1"}, want: dirs(func(d *Directives) { d.MaxAge = secs(1) })},

		// Case, spacing and lines.
		{name: "upper case", lines: []string{"MAX-AGE=5, No-Store, PUBLIC, Stale-If-Error=9"},
			want: dirs(func(d *Directives) { d.MaxAge = secs(5); d.NoStore = true; d.Public = true; d.StaleIfError = secs(9) })},
		{name: "spaces and tabs", lines: []string{"  max-age=5 ,\tpublic  ,"},
			want: dirs(func(d *Directives) { d.MaxAge = secs(5); d.Public = true })},
		{name: "spaces around equals", lines: []string{"max-age = 5"}, want: dirs(func(d *Directives) { d.MaxAge = secs(5) })},
		{name: "multiple lines", lines: []string{"max-age=5", "no-store", "", "s-maxage=7, private"},
			want: dirs(func(d *Directives) { d.MaxAge = secs(5); d.NoStore = true; d.SMaxAge = secs(7); d.Private = true })},

		// Quoted strings.
		{name: "quoted comma", lines: []string{`no-cache="a, b", max-age=5`},
			want: dirs(func(d *Directives) { d.NoCache = true; d.MaxAge = secs(5) })},
		{name: "quoted private list", lines: []string{`private="Set-Cookie, X-Foo", public`},
			want: dirs(func(d *Directives) { d.Private = true; d.Public = true })},
		{name: "directive hidden in quotes", lines: []string{`no-cache="no-store, max-age=1", max-age=5`},
			want: dirs(func(d *Directives) { d.NoCache = true; d.MaxAge = secs(5) })},
		{name: "escaped quote in quotes", lines: []string{`no-cache="a\", no-store", max-age=5`},
			want: dirs(func(d *Directives) { d.NoCache = true; d.MaxAge = secs(5) })},
		{name: "quoted delta", lines: []string{`max-age="7"`}, want: dirs(func(d *Directives) { d.MaxAge = secs(7) })},
		{name: "unterminated quote swallows the rest", lines: []string{`no-cache="a, max-age=5`},
			want: dirs(func(d *Directives) { d.NoCache = true })},
		{name: "quotes do not span lines", lines: []string{`no-cache="a`, "max-age=5"},
			want: dirs(func(d *Directives) { d.NoCache = true; d.MaxAge = secs(5) })},

		// Invalid delta-seconds count as 0.
		{name: "non-numeric", lines: []string{"max-age=abc"}, want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "negative", lines: []string{"max-age=-1"}, want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "plus sign", lines: []string{"max-age=+5"}, want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "fraction", lines: []string{"max-age=1.5"}, want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "unit suffix", lines: []string{"s-maxage=5s"}, want: dirs(func(d *Directives) { d.SMaxAge = 0 })},
		{name: "empty value", lines: []string{"max-age="}, want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "missing value", lines: []string{"max-age"}, want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "empty quoted value", lines: []string{`stale-if-error=""`}, want: dirs(func(d *Directives) { d.StaleIfError = 0 })},
		{name: "zero", lines: []string{"max-age=0"}, want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "leading zeros", lines: []string{"max-age=007"}, want: dirs(func(d *Directives) { d.MaxAge = secs(7) })},

		// Repeated durations: the smallest wins, an invalid one counts as 0.
		{name: "repeat smaller last", lines: []string{"max-age=10, max-age=5"}, want: dirs(func(d *Directives) { d.MaxAge = secs(5) })},
		{name: "repeat smaller first", lines: []string{"max-age=5, max-age=10"}, want: dirs(func(d *Directives) { d.MaxAge = secs(5) })},
		{name: "repeat across lines", lines: []string{"s-maxage=50", "s-maxage=20", "s-maxage=30"},
			want: dirs(func(d *Directives) { d.SMaxAge = secs(20) })},
		{name: "repeat with invalid", lines: []string{"max-age=5, max-age=bogus"}, want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "repeat min-fresh and max-stale", lines: []string{"min-fresh=9, max-stale=8, min-fresh=3, max-stale=4"},
			want: dirs(func(d *Directives) { d.MinFresh = secs(3); d.MaxStale = secs(4) })},
		{name: "repeat stale windows", lines: []string{"stale-while-revalidate=60, stale-if-error=60", "stale-while-revalidate=6, stale-if-error=600"},
			want: dirs(func(d *Directives) { d.StaleWhileRevalidate = secs(6); d.StaleIfError = secs(60) })},

		// Huge values cap at 2^31 seconds (RFC 9111 §1.2.2).
		{name: "just below cap", lines: []string{"max-age=2147483647"}, want: dirs(func(d *Directives) { d.MaxAge = secs(2147483647) })},
		{name: "at cap", lines: []string{"max-age=2147483648"}, want: dirs(func(d *Directives) { d.MaxAge = maxDelta })},
		{name: "above cap", lines: []string{"max-age=2147483649"}, want: dirs(func(d *Directives) { d.MaxAge = maxDelta })},
		{name: "2^32", lines: []string{"s-maxage=4294967296"}, want: dirs(func(d *Directives) { d.SMaxAge = maxDelta })},
		{name: "largest without overflow", lines: []string{"max-age=9223372036"}, want: dirs(func(d *Directives) { d.MaxAge = maxDelta })},
		{name: "eleven digits", lines: []string{"max-age=99999999999"}, want: dirs(func(d *Directives) { d.MaxAge = maxDelta })},
		{name: "beyond int64", lines: []string{"max-age=99999999999999999999999999"}, want: dirs(func(d *Directives) { d.MaxAge = maxDelta })},
		{name: "huge then small", lines: []string{"max-age=99999999999, max-age=3"}, want: dirs(func(d *Directives) { d.MaxAge = secs(3) })},

		// Ten digits whose nanoseconds overflow int64: parseDelta multiplies
		// before it compares and returns a negative duration, which reads as
		// "absent".
		{name: "ten digits overflowing int64 ns", lines: []string{"max-age=9999999999"},
			want: dirs(func(d *Directives) { d.MaxAge = maxDelta })},
		{name: "first overflowing value", lines: []string{"s-maxage=9223372037"},
			want: dirs(func(d *Directives) { d.SMaxAge = maxDelta })},
		{name: "overflowing stale-if-error", lines: []string{"stale-if-error=9999999999"},
			want: dirs(func(d *Directives) { d.StaleIfError = maxDelta })},
		// More than ten digits is taken as huge before leading zeros are
		// dropped: max-age=0 spelled with 11 zeros is fresh for 68 years.
		{name: "eleven zeros", lines: []string{"max-age=00000000000"},
			want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "long zero-padded value", lines: []string{"max-age=0000000000000000000005"},
			want: dirs(func(d *Directives) { d.MaxAge = secs(5) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseCacheControl(tt.lines)
			if got != tt.want {
				t.Errorf("ParseCacheControl(%q)\n got %+v\nwant %+v", tt.lines, got, tt.want)
			}
		})
	}
}

func TestDirectivesPresent(t *testing.T) {
	tests := []struct {
		lines []string
		want  bool
	}{
		{nil, false},
		{[]string{}, false},
		{[]string{""}, false},
		{[]string{"  ", "\t"}, false},
		{[]string{",,,"}, false},
		{[]string{"=", "=x"}, false},
		{[]string{"public"}, true},
		{[]string{"", "max-age=0"}, true},
		{[]string{"x-unknown"}, true},
		{[]string{"max-age=bogus"}, true},
	}
	for _, tt := range tests {
		if got := ParseCacheControl(tt.lines).Present(); got != tt.want {
			t.Errorf("ParseCacheControl(%q).Present() = %v, want %v", tt.lines, got, tt.want)
		}
	}
	if (Directives{}).Present() {
		t.Error("zero Directives is Present")
	}
}

// asciiUpper upper-cases ASCII letters only, which the parser must ignore.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// FuzzParseCacheControl feeds arbitrary fields, one line per "\n", and
// checks the parse's invariants: no panic, every duration absent (-1) or in
// [0, 2^31 s], no directive means the absent value, and ASCII case does not
// matter.
func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{
		"max-age=60, public",
		`no-cache="a, b", max-age=5`,
		"max-stale\nmax-stale=10",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		lines := strings.Split(field, "\n")
		d := ParseCacheControl(lines)
		for name, v := range map[string]time.Duration{
			"MaxAge": d.MaxAge, "SMaxAge": d.SMaxAge, "MaxStale": d.MaxStale, "MinFresh": d.MinFresh,
			"StaleWhileRevalidate": d.StaleWhileRevalidate, "StaleIfError": d.StaleIfError,
		} {
			if v != -1 && (v < 0 || v > maxDelta) {
				t.Errorf("%s = %v (%d), want -1 or within [0, %v]", name, v, int64(v), maxDelta)
			}
		}
		if !d.Present() && d != absent() {
			t.Errorf("no directive present but parse is %+v", d)
		}
		upper := make([]string, len(lines))
		for i, l := range lines {
			upper[i] = asciiUpper(l)
		}
		if u := ParseCacheControl(upper); u != d {
			t.Errorf("parse depends on case:\n%q: %+v\n%q: %+v", lines, d, upper, u)
		}
	})
}
