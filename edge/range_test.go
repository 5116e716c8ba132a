package edge_test

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/tern-cdn/tern/internal/testkit"
)

const digits = "0123456789abcdefghijklmnopqrstuvwxyz" // 36 bytes

func TestRanges(t *testing.T) {
	hs := newHarness(t, fixed(digits, "Cache-Control", "max-age=60", "ETag", `"d"`, "Content-Type", "text/plain",
		"Last-Modified", testkit.NewClock().Now().Add(-1e12).Format(http.TimeFormat)))
	tests := []struct {
		name         string
		req          []string
		code         int
		body         string
		contentRange string
	}{
		{"first bytes", []string{"Range", "bytes=0-9"}, 206, "0123456789", "bytes 0-9/36"},
		{"open end", []string{"Range", "bytes=30-"}, 206, "uvwxyz", "bytes 30-35/36"},
		{"suffix", []string{"Range", "bytes=-4"}, 206, "wxyz", "bytes 32-35/36"},
		{"last beyond end", []string{"Range", "bytes=34-100"}, 206, "yz", "bytes 34-35/36"},
		{"unsatisfiable", []string{"Range", "bytes=36-40"}, 416, "", "bytes */36"},
		{"reversed", []string{"Range", "bytes=9-1"}, 416, "", "bytes */36"},
		{"garbage", []string{"Range", "bytes=abc"}, 416, "", "bytes */36"},
		{"other unit", []string{"Range", "items=0-1"}, 200, digits, ""},
		{"if-range match", []string{"Range", "bytes=0-1", "If-Range", `"d"`}, 206, "01", "bytes 0-1/36"},
		{"if-range mismatch", []string{"Range", "bytes=0-1", "If-Range", `"old"`}, 200, digits, ""},
		{"if-range weak never matches", []string{"Range", "bytes=0-1", "If-Range", `W/"d"`}, 200, digits, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.get("/d", tt.req...)
			if r.code != tt.code || r.body != tt.body || r.header.Get("Content-Range") != tt.contentRange {
				t.Fatalf("got %d %q %q; want %d %q %q", r.code, r.body, r.header.Get("Content-Range"), tt.code, tt.body, tt.contentRange)
			}
		})
	}
	hs.expectHits(1)
}

func TestMultipleRanges(t *testing.T) {
	hs := newHarness(t, fixed(digits, "Cache-Control", "max-age=60", "Content-Type", "text/plain"))
	for round := 0; round < 2; round++ { // on the miss, then on the hit
		r := hs.get("/d", "Range", "bytes=0-2, 10-12, -2")
		if r.code != 206 {
			t.Fatalf("status %d", r.code)
		}
		mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
		}
		mr := multipart.NewReader(strings.NewReader(r.body), params["boundary"])
		want := []struct{ cr, body string }{{"bytes 0-2/36", "012"}, {"bytes 10-12/36", "abc"}, {"bytes 34-35/36", "yz"}}
		for _, w := range want {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p)
			if p.Header.Get("Content-Range") != w.cr || string(b) != w.body || p.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("part %q %q %q", p.Header.Get("Content-Range"), b, p.Header.Get("Content-Type"))
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Errorf("extra part: %v", err)
		}
	}
	hs.expectHits(1)
}

func TestRangeOnMissFetchesWholeObject(t *testing.T) {
	hs := newHarness(t, fixed(digits, "Cache-Control", "max-age=60"))
	if r := hs.get("/d", "Range", "bytes=5-7"); r.code != 206 || r.body != "567" {
		t.Fatalf("miss: %d %q", r.code, r.body)
	}
	if hs.origin.lastHeader().Get("Range") != "" {
		t.Errorf("fill forwarded the client's Range")
	}
	// The range is answered before the fill ends, so this may still join it.
	if r := hs.get("/d"); r.body != digits || !(strings.Contains(r.status(), "hit") || strings.Contains(r.status(), "collapsed")) {
		t.Fatalf("full hit after a range miss: %q %q", r.body, r.status())
	}
	hs.expectHits(1)
}

func TestRangePassesThroughForUncacheable(t *testing.T) {
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private")
		http.ServeContent(w, r, "d.txt", testkit.NewClock().Now(), strings.NewReader(digits))
	})
	for i := 0; i < 2; i++ {
		if r := hs.get("/d", "Range", "bytes=1-2"); r.code != 206 || r.body != "12" {
			t.Fatalf("request %d: %d %q", i, r.code, r.body)
		}
	}
}
