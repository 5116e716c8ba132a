package httpcache

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// nov6 is the RFC's example date, Sunday 6 November 1994, 08:49:37 UTC.
var nov6 = time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC)

func TestParseHTTPDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time // zero: invalid
	}{
		// The three forms (RFC 9110 §5.6.7).
		{"Sun, 06 Nov 1994 08:49:37 GMT", nov6},
		{"Sunday, 06-Nov-94 08:49:37 GMT", nov6},
		{"Sun Nov  6 08:49:37 1994", nov6},
		{"Sun Nov 06 08:49:37 1994", nov6}, // date3 allows 2DIGIT too

		// Letters match without regard to case (RFC 9111 §4.2).
		{"Sun, 06 Nov 1994 08:49:37 gMT", nov6},
		{"SUN, 06 NOV 1994 08:49:37 gmt", nov6},
		{"sunday, 06-nov-94 08:49:37 Gmt", nov6},
		{"sUN nOV  6 08:49:37 1994", nov6},

		// Spacing must be exact.
		{"Sun,  06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov  1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994  08:49:37 GMT", time.Time{}},
		{"Sun, 06  Nov 1994 08:49:37 GMT", time.Time{}},
		{" Sun, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 GMT ", time.Time{}},
		{"Sun,06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37\tGMT", time.Time{}},
		{"Sunday,  06-Nov-94 08:49:37 GMT", time.Time{}},
		{"Sun Nov 6 08:49:37 1994", time.Time{}},
		{"Sun  Nov  6 08:49:37 1994", time.Time{}},
		{"Sun Nov  6  08:49:37 1994", time.Time{}},

		// Two digits for day, hour, minute and second.
		{"Sun, 6 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 8:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 8:49:37  GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:9:37 GMT ", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:7 GMT ", time.Time{}},
		{"Sunday, 6-Nov-94 08:49:37 GMT", time.Time{}},
		{"Sun Nov  6 8:49:37 1994", time.Time{}},
		{"Sun Nov  6 08:49:37 94", time.Time{}},
		{"Sun, 06 Nov 94 08:49:37 GMT", time.Time{}},
		{"Sun, +6 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:-7 GMT", time.Time{}},

		// Ranges, days that do not exist, and the day name.
		{"Sun, 06 Nov 1994 24:00:00 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:60:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:60 GMT", time.Time{}},
		{"Sun, 00 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Thu, 31 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 29 Feb 1995 08:49:37 GMT", time.Time{}},
		{"Thu, 29 Feb 1996 08:49:37 GMT", time.Date(1996, 2, 29, 8, 49, 37, 0, time.UTC)},
		{"Mon, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Monday, 06-Nov-94 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 23:59:59 GMT", time.Date(1994, 11, 6, 23, 59, 59, 0, time.UTC)},

		// The zone is GMT; asctime has none.
		{"Sun, 06 Nov 1994 08:49:37 UTC", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 +0000", time.Time{}},
		{"Sunday, 06-Nov-94 08:49:37 UTC", time.Time{}},
		{"Sun Nov  6 08:49:37 1994 GMT", time.Time{}},

		// Names must be whole: no abbreviated long names, no long short ones.
		{"Sund, 06-Nov-94 08:49:37 GMT", time.Time{}},
		{"Sun, 06-Nov-94 08:49:37 GMT", time.Time{}},
		{"Sunday, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 November 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", time.Time{}},

		// Not dates at all.
		{"", time.Time{}},
		{"0", time.Time{}},
		{"-1", time.Time{}},
		{"never", time.Time{}},
		{"784111777", time.Time{}},
		{"1994-11-06T08:49:37Z", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 GM\xff", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 \u212aMT", time.Time{}}, // Kelvin sign is not K (nor G)
	}
	for _, tt := range tests {
		got, ok := ParseHTTPDate(tt.in, t0)
		if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
			t.Errorf("ParseHTTPDate(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, !tt.want.IsZero())
		}
		if ok && got.Location() != time.UTC {
			t.Errorf("ParseHTTPDate(%q) is in %v, want UTC", tt.in, got.Location())
		}
	}
}

// TestParseHTTPDateTwoDigitYear: an RFC 850 year more than 50 years after
// now is from the century before (RFC 9110 §5.6.7).
func TestParseHTTPDateTwoDigitYear(t *testing.T) {
	now := time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		year int
	}{
		{"Thursday, 01-Jan-26 00:00:00 GMT", 2026},
		{"Wednesday, 01-Jan-70 00:00:00 GMT", 2070},
		{"Monday, 01-Jun-76 00:00:00 GMT", 2076},    // exactly 50 years ahead: not more
		{"Wednesday, 02-Jun-76 00:00:00 GMT", 1976}, // a day past 50 years
		{"Saturday, 01-Jan-77 00:00:00 GMT", 1977},
		{"Friday, 31-Dec-99 23:59:59 GMT", 1999},
		{"Saturday, 01-Jan-00 00:00:00 GMT", 2000},
	}
	for _, tt := range tests {
		got, ok := ParseHTTPDate(tt.in, now)
		if !ok || got.Year() != tt.year {
			t.Errorf("ParseHTTPDate(%q, %v) = %v, %v; want year %d", tt.in, now.Format(time.DateOnly), got, ok, tt.year)
		}
	}
}

// TestParseHTTPDateRoundTrip formats instants across four centuries in the
// three forms and parses them back.
func TestParseHTTPDateRoundTrip(t *testing.T) {
	const step = 7*24*time.Hour + 13*time.Hour + 17*time.Minute + 31*time.Second
	from := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	for at := from; at.Year() < 2300; at = at.Add(step) {
		for _, layout := range []string{imfFixdate, asctimeDay} {
			s := at.Format(layout)
			if got, ok := ParseHTTPDate(s, t0); !ok || !got.Equal(at) {
				t.Fatalf("ParseHTTPDate(%q) = %v, %v; want %v", s, got, ok, at)
			}
		}
		// Seen ten years later, the two-digit year is within 50 years.
		s, now := at.Format(rfc850Date), at.AddDate(10, 0, 0)
		if got, ok := ParseHTTPDate(s, now); !ok || !got.Equal(at) {
			t.Fatalf("ParseHTTPDate(%q, now %v) = %v, %v; want %v", s, now, got, ok, at)
		}
	}
}

func TestParseHTTPDateAllocs(t *testing.T) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "0"} {
		if n := testing.AllocsPerRun(100, func() { ParseHTTPDate(s, t0) }); n != 0 {
			t.Errorf("ParseHTTPDate(%q): %v allocations, want 0", s, n)
		}
	}
}

// FuzzHTTPDate checks what a strict parse promises: no panic; a date is
// UTC and whole seconds; it re-formats, in the form it came in, to the
// input (letters aside, and asctime's "06" aside, which formats as " 6");
// and Go's lenient http.ParseTime agrees on every IMF-fixdate and asctime
// date accepted (its two-digit-year rule differs from RFC 9110's).
func FuzzHTTPDate(f *testing.F) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
		"Sun, 06 Nov 1994 8:49:37  GMT",
		"Thu, 29 Feb 1996 08:49:37 gmt",
		"0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseHTTPDate(s, t0)
		if !ok {
			if !got.IsZero() {
				t.Errorf("ParseHTTPDate(%q) failed but returned %v", s, got)
			}
			return
		}
		if got.Location() != time.UTC || got.Nanosecond() != 0 {
			t.Errorf("ParseHTTPDate(%q) = %v: not UTC whole seconds", s, got)
		}
		layout := rfc850Date
		switch {
		case len(s) == len(imfFixdate) && s[3] == ',':
			layout = imfFixdate
		case len(s) == len(asctimeDay) && s[3] == ' ':
			layout = asctimeDay
		}
		want := s
		if layout == asctimeDay && s[8] == '0' {
			want = s[:8] + " " + s[9:]
		}
		if f := got.Format(layout); !foldEqual(f, want) {
			t.Errorf("ParseHTTPDate(%q) = %v, which formats as %q", s, got, f)
		}
		if again, ok := ParseHTTPDate(got.Format(http.TimeFormat), t0); !ok || !again.Equal(got) {
			t.Errorf("ParseHTTPDate(%q) = %v, whose IMF-fixdate parses as %v, %v", s, got, again, ok)
		}
		if layout != rfc850Date && (layout == asctimeDay || strings.HasSuffix(s, "GMT")) {
			if lenient, err := http.ParseTime(s); err != nil || !lenient.Equal(got) {
				t.Errorf("ParseHTTPDate(%q) = %v but http.ParseTime gives %v, %v", s, got, lenient, err)
			}
		}
	})
}
