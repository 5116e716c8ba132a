package httpcache

import "time"

// The three forms of an HTTP-date (RFC 9110 §5.6.7), as time layouts.
const (
	imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT" // http.TimeFormat
	rfc850Date = "Monday, 02-Jan-06 15:04:05 GMT"
	asctimeDay = "Mon Jan _2 15:04:05 2006"
)

// ParseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) strictly: an
// IMF-fixdate, or exactly the obsolete RFC 850 or asctime form. Single
// spaces, two-digit day (space-padded only in asctime), hour, minute and
// second, a day of month that exists, and a day name that matches the
// date. Letters match without regard to case ("gmt", "NOV"), as RFC 9111
// §4.2 asks of caches. A second of 60 is refused: a leap second cannot be
// represented and the field is then treated as invalid. now resolves the
// two-digit year of the RFC 850 form: a year more than 50 years after now
// is taken from the century before. It does not allocate.
//
// Go's http.ParseTime is not used because it accepts runs of spaces and
// one-digit hours, which a cache must treat as invalid.
func ParseHTTPDate(s string, now time.Time) (time.Time, bool) {
	switch {
	case len(s) == len(imfFixdate) && s[3] == ',':
		return parseIMFFixdate(s)
	case len(s) == len(asctimeDay) && s[3] == ' ':
		return parseASCTime(s)
	default:
		return parseRFC850(s, now)
	}
}

// parseIMFFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT".
func parseIMFFixdate(s string) (time.Time, bool) {
	if s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ' || !foldEqual(s[26:], "GMT") {
		return time.Time{}, false
	}
	wd, ok1 := shortWeekday(s[:3])
	day, ok2 := atoiDigits(s[5:7])
	mon, ok3 := month(s[8:11])
	year, ok4 := atoiDigits(s[12:16])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return time.Time{}, false
	}
	return makeDate(wd, year, mon, day, s[17:25])
}

// parseASCTime parses "Sun Nov  6 08:49:37 1994" (the day of month is two
// digits or a space and one digit).
func parseASCTime(s string) (time.Time, bool) {
	if s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	wd, ok1 := shortWeekday(s[:3])
	mon, ok2 := month(s[4:7])
	dd := s[8:10]
	if dd[0] == ' ' {
		dd = dd[1:]
	}
	day, ok3 := atoiDigits(dd)
	year, ok4 := atoiDigits(s[20:24])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return time.Time{}, false
	}
	return makeDate(wd, year, mon, day, s[11:19])
}

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT".
func parseRFC850(s string, now time.Time) (time.Time, bool) {
	comma := -1
	for i := 0; i < len(s) && i < len("Wednesday,"); i++ {
		if s[i] == ',' {
			comma = i
			break
		}
	}
	if comma < 0 {
		return time.Time{}, false
	}
	wd, ok := longWeekday(s[:comma])
	rest := s[comma+1:]
	if !ok || len(rest) != len(" 06-Nov-94 08:49:37 GMT") ||
		rest[0] != ' ' || rest[3] != '-' || rest[7] != '-' || rest[10] != ' ' || rest[19] != ' ' || !foldEqual(rest[20:], "GMT") {
		return time.Time{}, false
	}
	day, ok1 := atoiDigits(rest[1:3])
	mon, ok2 := month(rest[4:7])
	yy, ok3 := atoiDigits(rest[8:10])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	year := now.Year() - now.Year()%100 + yy
	if time.Date(year, mon, day, 0, 0, 0, 0, time.UTC).After(now.AddDate(50, 0, 0)) {
		year -= 100
	}
	return makeDate(wd, year, mon, day, rest[11:19])
}

// makeDate checks the clock ("08:49:37"), the day of month and the day
// name, and returns the instant in UTC.
func makeDate(wd time.Weekday, year int, mon time.Month, day int, clock string) (time.Time, bool) {
	if clock[2] != ':' || clock[5] != ':' {
		return time.Time{}, false
	}
	hh, ok1 := atoiDigits(clock[0:2])
	mm, ok2 := atoiDigits(clock[3:5])
	ss, ok3 := atoiDigits(clock[6:8])
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, mon, day, hh, mm, ss, 0, time.UTC)
	// time.Date normalizes 31 Nov to 1 Dec: a day that moved did not exist.
	if day < 1 || t.Day() != day || t.Weekday() != wd {
		return time.Time{}, false
	}
	return t, true
}

// atoiDigits parses a string of ASCII digits only (no sign, no space).
func atoiDigits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

var (
	monthNames   = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	weekdayNames = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

func month(s string) (time.Month, bool) {
	for i, m := range monthNames {
		if foldEqual(s, m) {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

func shortWeekday(s string) (time.Weekday, bool) {
	for i, w := range weekdayNames {
		if foldEqual(s, w[:3]) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

func longWeekday(s string) (time.Weekday, bool) {
	for i, w := range weekdayNames {
		if foldEqual(s, w) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// foldEqual compares ASCII letters without regard to case; unlike
// strings.EqualFold it does not fold non-ASCII (the Kelvin sign is not k).
func foldEqual(s, ascii string) bool {
	if len(s) != len(ascii) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lowerASCII(ascii[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
