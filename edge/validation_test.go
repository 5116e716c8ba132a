package edge_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-cdn/tern/internal/testkit"
)

// etagOrigin serves version-tagged content and answers If-None-Match with
// 304 while the tag matches.
func etagOrigin(cc string, etag *atomic.Value, extra ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tag := etag.Load().(string)
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("ETag", tag)
		for i := 0; i+1 < len(extra); i += 2 {
			w.Header().Set(extra[i], extra[i+1])
		}
		if r.Header.Get("If-None-Match") == tag {
			w.Header().Set("X-Revalidated", "yes")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("body " + tag))
	}
}

func TestRevalidation(t *testing.T) {
	var tag atomic.Value
	tag.Store(`"v1"`)
	hs := newHarness(t, etagOrigin("max-age=60", &tag))
	hs.get("/x")
	hs.clock.Advance(90 * time.Second)

	r := hs.get("/x")
	if hs.origin.lastHeader().Get("If-None-Match") != `"v1"` {
		t.Fatalf("revalidation sent If-None-Match %q", hs.origin.lastHeader().Get("If-None-Match"))
	}
	if r.code != 200 || r.body != `body "v1"` {
		t.Fatalf("revalidated response %d %q", r.code, r.body)
	}
	if r.header.Get("X-Revalidated") != "yes" {
		t.Errorf("304 header fields were not merged into the stored response")
	}
	if !strings.Contains(r.status(), "fwd=stale; fwd-status=304; stored") {
		t.Errorf("Cache-Status = %q", r.status())
	}
	// The merged response is fresh again.
	if r := hs.get("/x"); !strings.Contains(r.status(), "hit") || r.header.Get("X-Revalidated") != "yes" {
		t.Errorf("after revalidation: %q %v", r.status(), r.header)
	}
	hs.expectHits(2)

	// A changed resource replaces the stored one.
	tag.Store(`"v2"`)
	hs.clock.Advance(90 * time.Second)
	if r := hs.get("/x"); r.body != `body "v2"` || !strings.Contains(r.status(), "fwd-status=200") {
		t.Errorf("changed resource: %q %q", r.body, r.status())
	}
}

func TestRevalidationLastModified(t *testing.T) {
	lm := testkit.NewClock().Now().Add(-time.Hour).Format(http.TimeFormat)
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("Last-Modified", lm)
		if r.Header.Get("If-Modified-Since") == lm {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("lm"))
	})
	hs.get("/x")
	hs.clock.Advance(20 * time.Second)
	r := hs.get("/x")
	if r.body != "lm" || !strings.Contains(r.status(), "fwd-status=304") {
		t.Fatalf("got %q %q", r.body, r.status())
	}
}

func TestNoCacheResponseRevalidatesEveryTime(t *testing.T) {
	var tag atomic.Value
	tag.Store(`"a"`)
	hs := newHarness(t, etagOrigin("no-cache", &tag))
	for i := 0; i < 3; i++ {
		if r := hs.get("/x"); r.body != `body "a"` {
			t.Fatalf("body %q", r.body)
		}
	}
	hs.expectHits(3)
}

func TestClientConditionals(t *testing.T) {
	lm := testkit.NewClock().Now().Add(-time.Hour)
	hs := newHarness(t, fixed("x", "Cache-Control", "max-age=60", "ETag", `"abc"`, "Last-Modified", lm.Format(http.TimeFormat)))
	hs.get("/x")
	tests := []struct {
		name string
		req  []string
		code int
	}{
		{"if-none-match match", []string{"If-None-Match", `"abc"`}, 304},
		{"if-none-match weak match", []string{"If-None-Match", `W/"abc"`}, 304},
		{"if-none-match list", []string{"If-None-Match", `"x", "abc"`}, 304},
		{"if-none-match other", []string{"If-None-Match", `"zzz"`}, 200},
		{"if-none-match star", []string{"If-None-Match", `*`}, 304},
		{"if-match fails", []string{"If-Match", `"zzz"`}, 412},
		{"if-match ok", []string{"If-Match", `"abc"`}, 200},
		{"if-unmodified-since before", []string{"If-Unmodified-Since", lm.Add(-time.Minute).Format(http.TimeFormat)}, 412},
		{"if-unmodified-since after", []string{"If-Unmodified-Since", lm.Add(time.Minute).Format(http.TimeFormat)}, 200},
		{"if-modified-since same", []string{"If-Modified-Since", lm.Format(http.TimeFormat)}, 304},
		{"if-modified-since earlier", []string{"If-Modified-Since", lm.Add(-time.Minute).Format(http.TimeFormat)}, 200},
		{"if-none-match beats if-modified-since", []string{"If-None-Match", `"zzz"`, "If-Modified-Since", lm.Format(http.TimeFormat)}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.get("/x", tt.req...)
			if r.code != tt.code {
				t.Fatalf("status %d, want %d", r.code, tt.code)
			}
			if tt.code == 304 && (r.body != "" || r.header.Get("ETag") != `"abc"`) {
				t.Errorf("304 body %q, ETag %q", r.body, r.header.Get("ETag"))
			}
		})
	}
	hs.expectHits(1)
}

func TestMustRevalidateUpstreamDown(t *testing.T) {
	hs := newHarness(t, fixed("x", "Cache-Control", "max-age=10, must-revalidate, stale-if-error=600", "ETag", `"1"`))
	hs.get("/x")
	hs.origin.CloseClientConnections()
	hs.origin.Close()
	hs.clock.Advance(20 * time.Second)
	if r := hs.get("/x"); r.code != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504 (%s)", r.code, r.body)
	}
}

func TestVary(t *testing.T) {
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding, X-Lang")
		ae := r.Header.Get("Accept-Encoding")
		if ae != "" {
			w.Header().Set("Content-Encoding", strings.Split(ae, ",")[0])
		}
		w.Write([]byte("ae=" + ae + " lang=" + r.Header.Get("X-Lang")))
	})
	tests := []struct {
		req  []string
		body string
	}{
		{[]string{"Accept-Encoding", "gzip, deflate", "X-Lang", "en"}, "ae=gzip lang=en"},
		{[]string{"Accept-Encoding", "gzip;q=1.0, identity", "X-Lang", " en "}, "ae=gzip lang=en"},
		{[]string{"Accept-Encoding", "br, gzip, zstd", "X-Lang", "en"}, "ae=br, gzip lang=en"},
		{[]string{"X-Lang", "en"}, "ae= lang=en"},
		{[]string{"Accept-Encoding", "gzip;q=0", "X-Lang", "en"}, "ae= lang=en"},
		{[]string{"Accept-Encoding", "gzip", "X-Lang", "de"}, "ae=gzip lang=de"},
	}
	for round := 0; round < 2; round++ {
		for _, tt := range tests {
			r := hs.get("/v", tt.req...)
			if r.body != tt.body {
				t.Errorf("round %d %v: body %q, want %q", round, tt.req, r.body, tt.body)
			}
		}
	}
	// Four distinct variants: the second row folds into the first, the
	// refused gzip into identity.
	hs.expectHits(4)
}

func TestEncodedBodyWithoutVaryIsKeyedByEncoding(t *testing.T) {
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("gzipped"))
			return
		}
		w.Write([]byte("plain"))
	})
	hs.get("/x", "Accept-Encoding", "gzip")
	if r := hs.get("/x"); r.body != "plain" || r.header.Get("Content-Encoding") != "" {
		t.Fatalf("identity client got %q with Content-Encoding %q", r.body, r.header.Get("Content-Encoding"))
	}
}

func TestInvalidationByUnsafeMethods(t *testing.T) {
	var version atomic.Int64
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Cache-Control", "max-age=600")
			w.Write([]byte{byte('0' + version.Load())})
		case "PROPPATCH":
			version.Add(1)
			w.WriteHeader(207)
		case http.MethodPost:
			version.Add(1)
			w.Header().Set("Location", "/other")
			w.Header().Set("Content-Location", "http://elsewhere.example/third")
			w.WriteHeader(201)
		case http.MethodDelete:
			w.WriteHeader(500)
		default:
			version.Add(1)
			w.WriteHeader(204)
		}
	})
	warm := func() {
		for _, p := range []string{"/x", "/other", "/third"} {
			hs.get(p)
		}
	}
	warm()
	if r := hs.do(http.MethodPost, "/x"); r.code != 201 || !strings.Contains(r.status(), "fwd=method") {
		t.Fatalf("POST: %d %q", r.code, r.status())
	}
	for path, want := range map[string]string{"/x": "1", "/other": "1", "/third": "0"} {
		if r := hs.get(path); r.body != want {
			t.Errorf("after POST %s = %q, want %q", path, r.body, want)
		}
	}
	// An error response invalidates nothing.
	hs.do(http.MethodDelete, "/x")
	if r := hs.get("/x"); r.body != "1" || !strings.Contains(r.status(), "hit") {
		t.Errorf("after failed DELETE: %q %q", r.body, r.status())
	}
	for _, m := range []string{http.MethodPut, http.MethodPatch, "PROPPATCH"} {
		before := version.Load()
		hs.do(m, "/x")
		if r := hs.get("/x"); r.body != string(rune('0'+before+1)) {
			t.Errorf("after %s: %q", m, r.body)
		}
	}
}

func TestInvalidationDropsAllVariants(t *testing.T) {
	var version atomic.Int64
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			version.Add(1)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "X-Lang")
		w.Write([]byte{byte('0' + version.Load())})
	})
	hs.get("/x", "X-Lang", "en")
	hs.get("/x", "X-Lang", "de")
	hs.do(http.MethodPost, "/x")
	for _, lang := range []string{"en", "de"} {
		if r := hs.get("/x", "X-Lang", lang); r.body != "1" {
			t.Errorf("%s variant after invalidation = %q", lang, r.body)
		}
	}
}
