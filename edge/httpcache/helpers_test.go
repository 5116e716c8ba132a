package httpcache

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Every Memory a test opens must be closed: ristretto's goroutines stop
	// only on Close.
	goleak.VerifyTestMain(m)
}

// t0 is the fixed "now" of the policy and entry tests.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// hdr builds a header from name, value pairs; a name may repeat.
func hdr(kv ...string) http.Header {
	if len(kv)%2 != 0 {
		panic("hdr: odd number of arguments")
	}
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// httpDate formats t as an HTTP-date.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// secs is n seconds.
func secs(n int64) time.Duration { return time.Duration(n) * time.Second }
