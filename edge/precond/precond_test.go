package precond

import (
	"net/http"
	"testing"
	"time"
)

var (
	lm      = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	lmStr   = lm.Format(http.TimeFormat)                 // Tue, 02 Jan 2024 03:04:05 GMT
	before  = lm.Add(-time.Hour).Format(http.TimeFormat) // Last-Modified is after it
	after   = lm.Add(time.Hour).Format(http.TimeFormat)  // Last-Modified is before it
	future  = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	rfc850  = lm.Format("Monday, 02-Jan-06 15:04:05 GMT")
	asctime = lm.Format(time.ANSIC)
	stored  = Validators{ETag: `"abc"`, LastModified: lm, Date: lm.Add(time.Hour)}
	weakTag = Validators{ETag: `W/"abc"`, LastModified: lm, Date: lm.Add(time.Hour)}
	noTag   = Validators{LastModified: lm, Date: lm.Add(time.Hour)}
	noLM    = Validators{ETag: `"abc"`}
	badTag  = Validators{ETag: `abc`, LastModified: lm}
	subSec  = Validators{ETag: `"abc"`, LastModified: lm.Add(500 * time.Millisecond), Date: lm.Add(time.Hour)}
	nothing = Validators{}
	hdr     = func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
)

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name   string
		method string
		h      http.Header
		v      Validators
		want   Result
	}{
		{"no conditions GET", "GET", hdr(), stored, Proceed},
		{"no conditions PUT", "PUT", hdr(), stored, Proceed},
		{"no conditions no validators", "GET", hdr(), nothing, Proceed},
		{"unrelated header", "GET", hdr("Range", "bytes=0-1"), stored, Proceed},

		// Methods that select no representation ignore preconditions.
		{"CONNECT ignores", "CONNECT", hdr("If-Match", `"zzz"`), stored, Proceed},
		{"OPTIONS ignores", "OPTIONS", hdr("If-None-Match", `"abc"`), stored, Proceed},
		{"TRACE ignores", "TRACE", hdr("If-Unmodified-Since", before), stored, Proceed},

		// 1. If-Match: strong comparison.
		{"If-Match equal", "GET", hdr("If-Match", `"abc"`), stored, Proceed},
		{"If-Match star", "PUT", hdr("If-Match", "*"), stored, Proceed},
		{"If-Match star without validators", "PUT", hdr("If-Match", "*"), nothing, Proceed},
		{"If-Match star with OWS", "PUT", hdr("If-Match", " * "), stored, Proceed},
		{"If-Match star in list", "PUT", hdr("If-Match", `"x", *`), nothing, Proceed},
		{"If-Match differs", "PUT", hdr("If-Match", `"abd"`), stored, PreconditionFailed},
		{"If-Match differs on GET is 412", "GET", hdr("If-Match", `"abd"`), stored, PreconditionFailed},
		{"If-Match weak request tag", "GET", hdr("If-Match", `W/"abc"`), stored, PreconditionFailed},
		{"If-Match weak stored tag", "GET", hdr("If-Match", `"abc"`), weakTag, PreconditionFailed},
		{"If-Match both weak", "GET", hdr("If-Match", `W/"abc"`), weakTag, PreconditionFailed},
		{"If-Match later in list", "PUT", hdr("If-Match", `"x", "y",  "abc"`), stored, Proceed},
		{"If-Match list with OWS and empty elements", "PUT", hdr("If-Match", ` , "x" ,,	"abc" ,`), stored, Proceed},
		{"If-Match second field line", "PUT", hdr("If-Match", `"x"`, "If-Match", `"abc"`), stored, Proceed},
		{"If-Match malformed then match", "PUT", hdr("If-Match", `abc, "abc"`), stored, Proceed},
		{"If-Match all malformed", "PUT", hdr("If-Match", `abc, 'abc', w/"abc"`), stored, PreconditionFailed},
		{"If-Match unterminated", "PUT", hdr("If-Match", `"abc`), stored, PreconditionFailed},
		{"If-Match trailing junk", "PUT", hdr("If-Match", `"abc"x`), stored, PreconditionFailed},
		{"If-Match case differs", "PUT", hdr("If-Match", `"ABC"`), stored, PreconditionFailed},
		{"If-Match no stored ETag", "PUT", hdr("If-Match", `"abc"`), noTag, PreconditionFailed},
		{"If-Match stored ETag unquoted", "PUT", hdr("If-Match", `abc`), badTag, PreconditionFailed},
		{"If-Match stored ETag unquoted, quoted request", "PUT", hdr("If-Match", `"abc"`), badTag, PreconditionFailed},
		{"If-Match empty is absent", "PUT", hdr("If-Match", ""), stored, Proceed},
		{"If-Match only OWS is absent", "PUT", hdr("If-Match", " \t"), stored, Proceed},
		{"If-Match only commas matches nothing", "PUT", hdr("If-Match", ", ,"), stored, PreconditionFailed},
		{"If-Match comma inside tag", "PUT", hdr("If-Match", `"a,b"`), Validators{ETag: `"a,b"`}, Proceed},

		// 2. If-Unmodified-Since, only without If-Match.
		{"IUS after LM", "PUT", hdr("If-Unmodified-Since", after), stored, Proceed},
		{"IUS equal to LM", "PUT", hdr("If-Unmodified-Since", lmStr), stored, Proceed},
		{"IUS before LM", "PUT", hdr("If-Unmodified-Since", before), stored, PreconditionFailed},
		{"IUS before LM on GET is 412", "GET", hdr("If-Unmodified-Since", before), stored, PreconditionFailed},
		{"IUS sub-second LM equal", "PUT", hdr("If-Unmodified-Since", lmStr), subSec, Proceed},
		{"IUS RFC 850", "PUT", hdr("If-Unmodified-Since", rfc850), stored, Proceed},
		{"IUS asctime", "PUT", hdr("If-Unmodified-Since", asctime), stored, Proceed},
		{"IUS asctime one second early", "PUT", hdr("If-Unmodified-Since", lm.Add(-time.Second).Format(time.ANSIC)), stored, PreconditionFailed},
		{"IUS unparsable ignored", "PUT", hdr("If-Unmodified-Since", "yesterday"), stored, Proceed},
		{"IUS list ignored", "PUT", hdr("If-Unmodified-Since", before, "If-Unmodified-Since", before), stored, Proceed},
		{"IUS without LM ignored", "PUT", hdr("If-Unmodified-Since", before), noLM, Proceed},
		{"IUS ignored when If-Match passes", "PUT", hdr("If-Match", `"abc"`, "If-Unmodified-Since", before), stored, Proceed},
		{"IUS ignored when If-Match star", "PUT", hdr("If-Match", "*", "If-Unmodified-Since", before), stored, Proceed},
		{"IUS used when If-Match empty", "PUT", hdr("If-Match", "", "If-Unmodified-Since", before), stored, PreconditionFailed},

		// 3. If-None-Match: weak comparison.
		{"INM equal GET", "GET", hdr("If-None-Match", `"abc"`), stored, NotModified},
		{"INM equal HEAD", "HEAD", hdr("If-None-Match", `"abc"`), stored, NotModified},
		{"INM equal PUT", "PUT", hdr("If-None-Match", `"abc"`), stored, PreconditionFailed},
		{"INM equal POST", "POST", hdr("If-None-Match", `"abc"`), stored, PreconditionFailed},
		{"INM equal DELETE", "DELETE", hdr("If-None-Match", `"abc"`), stored, PreconditionFailed},
		{"INM lower-case method is not GET", "get", hdr("If-None-Match", `"abc"`), stored, PreconditionFailed},
		{"INM weak request tag", "GET", hdr("If-None-Match", `W/"abc"`), stored, NotModified},
		{"INM weak stored tag", "GET", hdr("If-None-Match", `"abc"`), weakTag, NotModified},
		{"INM both weak", "GET", hdr("If-None-Match", `W/"abc"`), weakTag, NotModified},
		{"INM differs", "GET", hdr("If-None-Match", `"abd"`), stored, Proceed},
		{"INM differs PUT", "PUT", hdr("If-None-Match", `"abd"`), stored, Proceed},
		{"INM list match", "GET", hdr("If-None-Match", `"x",W/"y", W/"abc"`), stored, NotModified},
		{"INM second field line", "GET", hdr("If-None-Match", `"x"`, "If-None-Match", `"abc"`), stored, NotModified},
		{"INM malformed skipped", "GET", hdr("If-None-Match", `"x, y", junk, "abc"`), stored, NotModified},
		{"INM lower-case weak prefix is malformed", "GET", hdr("If-None-Match", `w/"abc"`), stored, Proceed},
		{"INM unquoted", "GET", hdr("If-None-Match", `abc`), stored, Proceed},
		{"INM unquoted stored ETag never matches", "GET", hdr("If-None-Match", `abc, "abc"`), badTag, Proceed},
		{"INM star GET", "GET", hdr("If-None-Match", "*"), stored, NotModified},
		{"INM star without validators", "GET", hdr("If-None-Match", "*"), nothing, NotModified},
		{"INM star PUT", "PUT", hdr("If-None-Match", "*"), stored, PreconditionFailed},
		{"INM star with junk is malformed", "GET", hdr("If-None-Match", "*x"), stored, Proceed},
		{"INM no stored ETag", "GET", hdr("If-None-Match", `"abc"`), noTag, Proceed},
		{"INM empty is absent", "GET", hdr("If-None-Match", "", "If-Modified-Since", lmStr), stored, NotModified},
		{"INM mismatch overrides IMS", "GET", hdr("If-None-Match", `"x"`, "If-Modified-Since", after), stored, Proceed},
		{"INM malformed still overrides IMS", "GET", hdr("If-None-Match", `junk`, "If-Modified-Since", after), stored, Proceed},
		{"INM match with IMS that says modified", "GET", hdr("If-None-Match", `"abc"`, "If-Modified-Since", before), stored, NotModified},

		// 4. If-Modified-Since: GET and HEAD only, without If-None-Match.
		{"IMS equal to LM", "GET", hdr("If-Modified-Since", lmStr), stored, NotModified},
		{"IMS after LM", "GET", hdr("If-Modified-Since", after), stored, NotModified},
		{"IMS after LM HEAD", "HEAD", hdr("If-Modified-Since", after), stored, NotModified},
		{"IMS before LM", "GET", hdr("If-Modified-Since", before), stored, Proceed},
		{"IMS one second before LM", "GET", hdr("If-Modified-Since", lm.Add(-time.Second).Format(http.TimeFormat)), stored, Proceed},
		{"IMS sub-second LM equal", "GET", hdr("If-Modified-Since", lmStr), subSec, NotModified},
		{"IMS RFC 850", "GET", hdr("If-Modified-Since", rfc850), stored, NotModified},
		{"IMS asctime", "GET", hdr("If-Modified-Since", asctime), stored, NotModified},
		{"IMS with OWS", "GET", hdr("If-Modified-Since", " "+lmStr+"\t"), stored, NotModified},
		{"IMS in the future still applies", "GET", hdr("If-Modified-Since", future), stored, NotModified},
		{"IMS ignored on POST", "POST", hdr("If-Modified-Since", after), stored, Proceed},
		{"IMS ignored on PUT", "PUT", hdr("If-Modified-Since", after), stored, Proceed},
		{"IMS ignored on lower-case get", "get", hdr("If-Modified-Since", after), stored, Proceed},
		{"IMS unparsable ignored", "GET", hdr("If-Modified-Since", "not a date"), stored, Proceed},
		{"IMS ISO 8601 ignored", "GET", hdr("If-Modified-Since", "2024-01-02T03:04:05Z"), stored, Proceed},
		{"IMS list ignored", "GET", hdr("If-Modified-Since", after, "If-Modified-Since", after), stored, Proceed},
		{"IMS without LM ignored", "GET", hdr("If-Modified-Since", after), noLM, Proceed},
		{"IMS empty ignored", "GET", hdr("If-Modified-Since", ""), stored, Proceed},

		// Order between the steps.
		{"If-Match fails before INM", "GET", hdr("If-Match", `"x"`, "If-None-Match", `"abc"`), stored, PreconditionFailed},
		{"If-Match passes then INM", "GET", hdr("If-Match", `"abc"`, "If-None-Match", `"abc"`), stored, NotModified},
		{"If-Match passes then INM PUT", "PUT", hdr("If-Match", `"abc"`, "If-None-Match", "*"), stored, PreconditionFailed},
		{"IUS fails before INM", "GET", hdr("If-Unmodified-Since", before, "If-None-Match", `"abc"`), stored, PreconditionFailed},
		{"IUS fails before IMS", "GET", hdr("If-Unmodified-Since", before, "If-Modified-Since", after), stored, PreconditionFailed},
		{"IUS passes then IMS", "GET", hdr("If-Unmodified-Since", after, "If-Modified-Since", after), stored, NotModified},
		{"all four, all pass", "GET", hdr("If-Match", `"abc"`, "If-Unmodified-Since", before, "If-None-Match", `"x"`, "If-Modified-Since", after), stored, Proceed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Evaluate(tt.method, tt.h, tt.v); got != tt.want {
				t.Fatalf("Evaluate(%q, %v, %+v) = %v, want %v", tt.method, tt.h, tt.v, got, tt.want)
			}
		})
	}
}

func TestEvaluateNilHeader(t *testing.T) {
	if got := Evaluate("GET", nil, stored); got != Proceed {
		t.Fatalf("Evaluate(GET, nil) = %v", got)
	}
	if !IfRange(nil, stored) {
		t.Fatal("IfRange(nil) = false")
	}
}

func TestIfRange(t *testing.T) {
	sameSecond := Validators{ETag: `"abc"`, LastModified: lm, Date: lm}
	almostSecond := Validators{ETag: `"abc"`, LastModified: lm, Date: lm.Add(999 * time.Millisecond)}
	oneSecond := Validators{ETag: `"abc"`, LastModified: lm, Date: lm.Add(time.Second)}
	noDate := Validators{ETag: `"abc"`, LastModified: lm}
	tests := []struct {
		name string
		h    http.Header
		v    Validators
		want bool
	}{
		{"absent", hdr(), stored, true},
		{"absent without validators", hdr(), nothing, true},

		{"etag equal", hdr("If-Range", `"abc"`), stored, true},
		{"etag with OWS", hdr("If-Range", "\t\"abc\" "), stored, true},
		{"etag differs", hdr("If-Range", `"abd"`), stored, false},
		{"etag weak request", hdr("If-Range", `W/"abc"`), stored, false},
		{"etag weak stored", hdr("If-Range", `"abc"`), weakTag, false},
		{"etag both weak", hdr("If-Range", `W/"abc"`), weakTag, false},
		{"etag no stored", hdr("If-Range", `"abc"`), noTag, false},
		{"etag stored unquoted", hdr("If-Range", `"abc"`), badTag, false},
		{"etag unterminated", hdr("If-Range", `"abc`), stored, false},
		{"etag list", hdr("If-Range", `"abc", "def"`), stored, false},
		{"etag trailing junk", hdr("If-Range", `"abc"x`), stored, false},
		{"etag star", hdr("If-Range", "*"), stored, false},
		{"unquoted etag", hdr("If-Range", "abc"), badTag, false},
		{"empty", hdr("If-Range", ""), stored, false},
		{"two field lines", hdr("If-Range", `"abc"`, "If-Range", `"abc"`), stored, false},

		{"date equal, strong", hdr("If-Range", lmStr), stored, true},
		{"date equal, Date exactly one second later", hdr("If-Range", lmStr), oneSecond, true},
		{"date equal RFC 850", hdr("If-Range", rfc850), stored, true},
		{"date equal asctime", hdr("If-Range", asctime), stored, true},
		{"date equal, sub-second LM", hdr("If-Range", lmStr), subSec, true},
		{"date equal, Date same second", hdr("If-Range", lmStr), sameSecond, false},
		{"date equal, Date 999ms later", hdr("If-Range", lmStr), almostSecond, false},
		{"date equal, Date unknown", hdr("If-Range", lmStr), noDate, false},
		{"date earlier", hdr("If-Range", before), stored, false},
		{"date later", hdr("If-Range", after), stored, false},
		{"date no LM", hdr("If-Range", lmStr), noLM, false},
		{"garbage", hdr("If-Range", "yesterday"), stored, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IfRange(tt.h, tt.v); got != tt.want {
				t.Fatalf("IfRange(%v, %+v) = %v, want %v", tt.h, tt.v, got, tt.want)
			}
		})
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{
		Proceed: "Proceed", NotModified: "NotModified", PreconditionFailed: "PreconditionFailed", 7: "Result(7)",
	} {
		if got := r.String(); got != want {
			t.Errorf("Result(%d).String() = %q, want %q", int(r), got, want)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	h := hdr("If-None-Match", `"x", "abc"`, "If-Modified-Since", lmStr)
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate("GET", h, stored) != NotModified {
			b.Fatal("unexpected result")
		}
	}
}

func BenchmarkEvaluateIMS(b *testing.B) {
	h := hdr("If-Modified-Since", lmStr)
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate("GET", h, stored) != NotModified {
			b.Fatal("unexpected result")
		}
	}
}
