package edge_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
)

// richOrigin serves one representation with every kind of end-to-end
// field, ranges and conditionals included (http.ServeContent), with the
// given Cache-Control.
func richOrigin(cc string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { serveRich(w, r, cc) }
}

func serveRich(w http.ResponseWriter, r *http.Request, cc string) {
	h := w.Header()
	h.Set("Cache-Control", cc)
	h.Set("Expires", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat))
	h.Set("ETag", `"rich-1"`)
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Language", "de")
	h.Set("Vary", "Accept-Encoding")
	h.Add("Link", "</font.woff2>; rel=preload; as=font")
	h.Add("Link", "</style.css>; rel=preload; as=style")
	h.Set("X-Custom", "one")
	h.Add("X-Multi", "a")
	h.Add("X-Multi", "b")
	h.Set("Content-Disposition", `inline; filename="s.css"`)
	h.Set("Access-Control-Allow-Origin", "*")
	lm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	http.ServeContent(w, r, "", lm, strings.NewReader(digits))
}

// endToEnd is a response header without the fields each cache sets by
// its own rules.
func endToEnd(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range []string{"Age", "Date", "Via", "Cache-Status"} {
		delete(out, k)
	}
	// Each multipart response has a boundary of its own.
	if ct, _, ok := strings.Cut(out.Get("Content-Type"), "; boundary="); ok {
		out.Set("Content-Type", ct+"; boundary=*")
	}
	return out
}

func dumpHeader(h http.Header) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(h)) {
		fmt.Fprintf(&b, "  %s: %q\n", k, h[k])
	}
	return b.String()
}

// TestHeaderSetThroughTiers: the end-to-end fields of a 200 (miss and
// hit), a 206, a 304 and a HEAD are the same through one tier and through
// edge → shield → origin, with and without slicing, and the 206 has the
// Content-Range a single origin would send.
func TestHeaderSetThroughTiers(t *testing.T) {
	type step struct {
		name   string
		path   string
		method string
		hdr    []string
		code   int
	}
	steps := []step{
		{"miss", "/s.css", "GET", nil, 200},
		{"hit", "/s.css", "GET", nil, 200},
		{"range", "/s.css", "GET", []string{"Range", "bytes=2-5"}, 206},
		{"suffix range", "/s.css", "GET", []string{"Range", "bytes=-3"}, 206},
		{"multi range", "/s.css", "GET", []string{"Range", "bytes=0-1,5-6"}, 206},
		{"416", "/s.css", "GET", []string{"Range", "bytes=99-"}, 416},
		{"if-range", "/s.css", "GET", []string{"Range", "bytes=2-5", "If-Range", `"rich-1"`}, 206},
		{"if-range mismatch", "/s.css", "GET", []string{"Range", "bytes=2-5", "If-Range", `"old"`}, 200},
		{"304", "/s.css", "GET", []string{"If-None-Match", `"rich-1"`}, 304},
		{"head", "/s.css", "HEAD", nil, 200},
		{"range miss", "/r.css", "GET", []string{"Range", "bytes=30-"}, 206},
		{"range hit", "/r.css", "GET", []string{"Range", "bytes=30-"}, 206},
		{"head miss", "/h.css", "HEAD", nil, 200},
		{"range after head", "/h.css", "GET", []string{"Range", "bytes=1-2"}, 206},
	}
	for _, v := range []struct {
		cc    string
		slice int64
	}{{"public, max-age=600", 0}, {"public, max-age=600", 4}, {"public, max-age=600", 64}, {"private", 0}, {"private", 4}, {"no-store", 4}} {
		slice := v.slice
		got := map[int]map[string]http.Header{}
		for _, n := range []int{1, 2} {
			ts := startTiers(t, n, richOrigin(v.cc), func(c *edge.Config) { c.SliceSize = slice })
			got[n] = map[string]http.Header{}
			for _, s := range steps {
				hdr := append([]string{"Accept-Encoding", "gzip"}, s.hdr...)
				resp, _ := ts.do(t, s.method, s.path, hdr...)
				if resp.StatusCode != s.code {
					t.Errorf("%s slice %d, %d tiers, %s: status %d, want %d", v.cc, slice, n, s.name, resp.StatusCode, s.code)
				}
				got[n][s.name] = endToEnd(resp.Header)
			}
		}
		// The origin's own answer to the range, for reference.
		if cr := got[1]["range"].Get("Content-Range"); cr != "bytes 2-5/36" {
			t.Errorf("%s slice %d, one tier: Content-Range %q", v.cc, slice, cr)
		}
		for _, s := range steps {
			one, two := got[1][s.name], got[2][s.name]
			if dumpHeader(one) != dumpHeader(two) {
				t.Errorf("%s slice %d, %s: one tier:\n%stwo tiers:\n%s", v.cc, slice, s.name, dumpHeader(one), dumpHeader(two))
			}
		}
		if got := got[2]["hit"]; got.Get("X-Custom") != "one" || len(got["Link"]) != 2 || len(got["X-Multi"]) != 2 ||
			got.Get("Content-Language") != "de" || got.Get("Content-Encoding") != "gzip" || got.Get("Last-Modified") == "" {
			t.Errorf("%s slice %d, two tiers: fields lost:\n%s", v.cc, slice, dumpHeader(got))
		}
	}
}
