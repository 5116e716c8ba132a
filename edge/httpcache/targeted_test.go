package httpcache

import (
	"strings"
	"testing"
	"time"
)

func TestParseCDNCacheControl(t *testing.T) {
	invalid := Directives{} // marks a row whose field must be ignored
	tests := []struct {
		name  string
		lines []string
		want  Directives
	}{
		{name: "max-age", lines: []string{"max-age=60"}, want: dirs(func(d *Directives) { d.MaxAge = secs(60) })},
		{name: "every duration", lines: []string{"max-age=1, s-maxage=2, stale-while-revalidate=3, stale-if-error=4, min-fresh=5, max-stale=6"},
			want: dirs(func(d *Directives) {
				d.MaxAge, d.SMaxAge, d.StaleWhileRevalidate, d.StaleIfError, d.MinFresh, d.MaxStale = secs(1), secs(2), secs(3), secs(4), secs(5), secs(6)
			})},
		{name: "every flag", lines: []string{"no-store, no-transform, public, must-revalidate, proxy-revalidate, only-if-cached, immutable, no-cache, private, max-stale"},
			want: dirs(func(d *Directives) {
				d.NoStore, d.NoTransform, d.Public, d.MustRevalidate, d.ProxyRevalidate = true, true, true, true, true
				d.OnlyIfCached, d.Immutable, d.NoCache, d.Private, d.MaxStaleAny = true, true, true, true, true
			})},
		{name: "explicit true", lines: []string{"public=?1"}, want: dirs(func(d *Directives) { d.Public = true })},
		{name: "false turns off", lines: []string{"no-store=?0, max-age=5"}, want: dirs(func(d *Directives) { d.MaxAge = secs(5) })},
		{name: "qualified no-cache and private", lines: []string{`no-cache="set-cookie", private="x-a, x-b"`},
			want: dirs(func(d *Directives) { d.NoCache = true; d.Private = true })},
		{name: "parameters ignored", lines: []string{"max-age=60;foo=bar;baz, public;x"},
			want: dirs(func(d *Directives) { d.MaxAge = secs(60); d.Public = true })},
		{name: "unknown directives of any type", lines: []string{`x-a="s", x-b=tok, x-c=(1 2), x-d=:AQID:, x-e=1.5, x-f=?0, *g, max-age=1`},
			want: dirs(func(d *Directives) { d.MaxAge = secs(1) })},
		{name: "only unknown", lines: []string{"x-foo"}, want: dirs(nil)},
		{name: "last value wins", lines: []string{"max-age=5, max-age=10"}, want: dirs(func(d *Directives) { d.MaxAge = secs(10) })},
		{name: "wrong type overwritten", lines: []string{`max-age="5", max-age=10`}, want: dirs(func(d *Directives) { d.MaxAge = secs(10) })},
		{name: "lines combined", lines: []string{"max-age=5", "public"}, want: dirs(func(d *Directives) { d.MaxAge = secs(5); d.Public = true })},
		{name: "spaces and tabs between members", lines: []string{"  max-age=5 ,\tpublic  "},
			want: dirs(func(d *Directives) { d.MaxAge = secs(5); d.Public = true })},
		{name: "zero", lines: []string{"max-age=0"}, want: dirs(func(d *Directives) { d.MaxAge = 0 })},
		{name: "capped", lines: []string{"max-age=999999999999999"}, want: dirs(func(d *Directives) { d.MaxAge = maxDelta })},
		{name: "max-stale integer then boolean", lines: []string{"max-stale=5, max-stale"}, want: dirs(func(d *Directives) { d.MaxStaleAny = true })},

		// Wrong types make the whole field invalid.
		{name: "string max-age", lines: []string{`max-age="10000"`}, want: invalid},
		{name: "token max-age", lines: []string{"max-age=abc"}, want: invalid},
		{name: "decimal max-age", lines: []string{"max-age=1.5"}, want: invalid},
		{name: "negative max-age", lines: []string{"max-age=-1"}, want: invalid},
		{name: "boolean max-age", lines: []string{"max-age"}, want: invalid},
		{name: "inner list s-maxage", lines: []string{"s-maxage=(1)"}, want: invalid},
		{name: "integer flag", lines: []string{"no-store=1"}, want: invalid},
		{name: "token flag", lines: []string{"public=yes"}, want: invalid},
		{name: "string flag", lines: []string{`no-store="true"`}, want: invalid},
		{name: "token no-cache", lines: []string{"no-cache=set-cookie"}, want: invalid},
		{name: "bytes private", lines: []string{"private=:AQID:"}, want: invalid},
		{name: "wrong type beside a good one", lines: []string{`public, max-age="60"`}, want: invalid},
		{name: "wrong type last", lines: []string{`max-age=60, max-age="60"`}, want: invalid},

		// Syntax errors make the whole field invalid.
		{name: "garbage", lines: []string{"&&&&&"}, want: invalid},
		{name: "empty", lines: []string{""}, want: invalid},
		{name: "no lines", lines: nil, want: invalid},
		{name: "only commas", lines: []string{", ,"}, want: invalid},
		{name: "trailing comma", lines: []string{"max-age=5,"}, want: invalid},
		{name: "leading comma", lines: []string{",max-age=5"}, want: invalid},
		{name: "empty line combined", lines: []string{"max-age=5", ""}, want: invalid},
		{name: "upper-case key", lines: []string{"Max-Age=5"}, want: invalid},
		{name: "space before equals", lines: []string{"max-age =5"}, want: invalid},
		{name: "space after equals", lines: []string{"max-age= 5"}, want: invalid},
		{name: "leading zeros allowed", lines: []string{"max-age=007"}, want: dirs(func(d *Directives) { d.MaxAge = secs(7) })},
		{name: "sixteen digits", lines: []string{"max-age=1234567890123456"}, want: invalid},
		{name: "unit suffix", lines: []string{"max-age=5s"}, want: invalid},
		{name: "empty value", lines: []string{"max-age="}, want: invalid},
		{name: "unterminated string", lines: []string{`no-cache="a`}, want: invalid},
		{name: "bad escape", lines: []string{`no-cache="a\b"`}, want: invalid},
		{name: "control in string", lines: []string{"no-cache=\"a\x01\""}, want: invalid},
		{name: "non-ASCII", lines: []string{"x-a=\"\xc3\xa9\", max-age=5"}, want: invalid},
		{name: "unclosed inner list", lines: []string{"x-a=(1 2"}, want: invalid},
		{name: "inner list without space", lines: []string{"x-a=(1\"b\")"}, want: invalid},
		{name: "decimal too precise", lines: []string{"x-a=1.2345"}, want: invalid},
		{name: "decimal without fraction", lines: []string{"x-a=1."}, want: invalid},
		{name: "bad boolean", lines: []string{"public=?2"}, want: invalid},
		{name: "bad byte sequence", lines: []string{"x-a=:AQ*D:"}, want: invalid},
		{name: "unterminated byte sequence", lines: []string{"x-a=:AQID"}, want: invalid},
		{name: "bad parameter key", lines: []string{"public;Foo"}, want: invalid},
		{name: "members without comma", lines: []string{"public max-age=5"}, want: invalid},
		{name: "semicolon separator", lines: []string{"public; max-age=5"}, want: dirs(func(d *Directives) { d.Public = true })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseCDNCacheControl(tt.lines)
			if tt.want == invalid {
				if ok || got != absent() {
					t.Errorf("ParseCDNCacheControl(%q) = %+v, %v; want it invalid", tt.lines, got, ok)
				}
				return
			}
			if !ok || got != tt.want {
				t.Errorf("ParseCDNCacheControl(%q)\n got %+v, %v\nwant %+v", tt.lines, got, ok, tt.want)
			}
		})
	}
}

// TestResponseDirectivesTargeted: an invalid CDN-Cache-Control falls back
// to Surrogate-Control, then Cache-Control; Surrogate-Control keeps the
// Cache-Control syntax.
func TestResponseDirectivesTargeted(t *testing.T) {
	tests := []struct {
		name     string
		h        []string
		maxAge   time.Duration
		targeted bool
	}{
		{"valid cdn-cache-control", []string{"Cdn-Cache-Control", "max-age=10", "Cache-Control", "max-age=30"}, secs(10), true},
		{"string max-age falls back", []string{"Cdn-Cache-Control", `max-age="10000"`, "Cache-Control", "max-age=30"}, secs(30), false},
		{"garbage falls back", []string{"Cdn-Cache-Control", "&&&&&", "Cache-Control", "max-age=30"}, secs(30), false},
		{"falls back to surrogate-control", []string{"Cdn-Cache-Control", "Max-Age=1", "Surrogate-Control", "max-age=20"}, secs(20), true},
		{"surrogate-control quoted value", []string{"Surrogate-Control", `max-age="20"`}, secs(20), true},
	}
	for _, tt := range tests {
		d, targeted := ResponseDirectives(hdr(tt.h...))
		if d.MaxAge != tt.maxAge || targeted != tt.targeted {
			t.Errorf("%s: max-age %v targeted %v, want %v %v", tt.name, d.MaxAge, targeted, tt.maxAge, tt.targeted)
		}
	}
}

func TestParseCDNCacheControlAllocs(t *testing.T) {
	lines := []string{`max-age=60, stale-while-revalidate=30;x=1, no-cache="set-cookie", x-list=(a b);p, public`}
	if n := testing.AllocsPerRun(100, func() { ParseCDNCacheControl(lines) }); n != 0 {
		t.Errorf("ParseCDNCacheControl: %v allocations, want 0", n)
	}
}

// FuzzCDNCacheControl checks the parse's promises on arbitrary fields: no
// panic; an invalid field is the absent value; a valid one has every
// duration absent or within [0, 2^31 s]; leading and trailing spaces do
// not matter; a valid field repeated (on one line or two) parses the same,
// because a repeated key takes its last value; and a trailing comma or an
// upper-case letter in front makes any field invalid.
func FuzzCDNCacheControl(f *testing.F) {
	for _, s := range []string{
		"max-age=60, public",
		`max-age="10000"`,
		"&&&&&",
		`no-cache="a, b";p=?1, x=(1 2.5 "s" tok :AQID:), s-maxage=0`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		d, ok := ParseCDNCacheControl([]string{field})
		if !ok {
			if d != absent() {
				t.Errorf("invalid %q parses as %+v", field, d)
			}
		} else {
			if !d.Present() {
				t.Errorf("valid %q has no directive", field)
			}
			for name, v := range map[string]time.Duration{
				"MaxAge": d.MaxAge, "SMaxAge": d.SMaxAge, "MaxStale": d.MaxStale, "MinFresh": d.MinFresh,
				"StaleWhileRevalidate": d.StaleWhileRevalidate, "StaleIfError": d.StaleIfError,
			} {
				if v != -1 && (v < 0 || v > maxDelta) {
					t.Errorf("%q: %s = %v, want -1 or within [0, %v]", field, name, v, maxDelta)
				}
			}
		}
		same := func(what string, lines ...string) {
			if d2, ok2 := ParseCDNCacheControl(lines); ok2 != ok || d2 != d {
				t.Errorf("%s: %q parses as %+v, %v but %q as %+v, %v", what, field, d, ok, lines, d2, ok2)
			}
		}
		if strings.TrimLeft(field, " ") == field {
			same("spaces around", "  "+field+"  ")
		}
		if ok {
			same("repeated on one line", field+", "+field)
			same("repeated on two lines", field, field)
		}
		if d2, ok2 := ParseCDNCacheControl([]string{field + ","}); ok2 {
			t.Errorf("%q with a trailing comma parses as %+v", field, d2)
		}
		if d2, ok2 := ParseCDNCacheControl([]string{"A" + field}); ok2 {
			t.Errorf("%q after an upper-case letter parses as %+v", "A"+field, d2)
		}
	})
}
