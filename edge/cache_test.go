package edge_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/internal/testkit"
)

func TestMissThenHit(t *testing.T) {
	hs := newHarness(t, fixed("console.log(1)", "Cache-Control", "public, max-age=60", "Content-Type", "text/javascript"))
	r1 := hs.get("/app.js")
	if r1.code != 200 || r1.body != "console.log(1)" {
		t.Fatalf("miss: %d %q", r1.code, r1.body)
	}
	if got := r1.status(); got != "tern-test-edge; fwd=miss; stored" {
		t.Errorf("miss Cache-Status = %q", got)
	}
	hs.clock.Advance(7 * time.Second)
	r2 := hs.get("/app.js")
	if r2.body != "console.log(1)" {
		t.Fatalf("hit body %q", r2.body)
	}
	if got := r2.status(); got != "tern-test-edge; hit; ttl=53" {
		t.Errorf("hit Cache-Status = %q", got)
	}
	if got := r2.header.Get("Age"); got != "7" {
		t.Errorf("Age = %q, want 7", got)
	}
	if got := r2.header.Get("Via"); got != "1.1 test-edge" {
		t.Errorf("Via = %q", got)
	}
	hs.expectHits(1)
}

// TestStorable checks which responses are stored: each row sends two
// requests and counts what reaches the origin.
func TestStorable(t *testing.T) {
	lm := testkit.NewClock().Now().Add(-10 * time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name     string
		status   int
		hdr      []string
		req      []string
		site     func(*edge.Config)
		stored   bool
		noCookie bool
	}{
		{name: "max-age", status: 200, hdr: []string{"Cache-Control", "max-age=60"}, stored: true},
		{name: "s-maxage", status: 200, hdr: []string{"Cache-Control", "s-maxage=60"}, stored: true},
		{name: "expires", status: 200, hdr: []string{"Expires", testkit.NewClock().Now().Add(time.Minute).Format(http.TimeFormat)}, stored: true},
		{name: "invalid expires", status: 200, hdr: []string{"Expires", "0"}, stored: false},
		{name: "heuristic from last-modified", status: 200, hdr: []string{"Last-Modified", lm}, stored: true},
		{name: "no freshness no validator", status: 200, stored: false},
		{name: "no-store", status: 200, hdr: []string{"Cache-Control", "max-age=60, no-store"}, stored: false},
		{name: "private", status: 200, hdr: []string{"Cache-Control", "private, max-age=60"}, stored: false},
		{name: "qualified private", status: 200, hdr: []string{"Cache-Control", `private="X-User", max-age=60`}, stored: false},
		{name: "vary star", status: 200, hdr: []string{"Cache-Control", "max-age=60", "Vary", "*"}, stored: false},
		{name: "set-cookie passes", status: 200, hdr: []string{"Cache-Control", "max-age=60", "Set-Cookie", "sid=1"}, stored: false},
		{name: "set-cookie stripped when the site allows", status: 200, hdr: []string{"Cache-Control", "max-age=60", "Set-Cookie", "sid=1"},
			site: func(c *edge.Config) { c.Sites[0].Policy.StoreSetCookie = true }, stored: true, noCookie: true},
		{name: "authorization", status: 200, hdr: []string{"Cache-Control", "max-age=60"}, req: []string{"Authorization", "Bearer x"}, stored: false},
		{name: "authorization public", status: 200, hdr: []string{"Cache-Control", "public, max-age=60"}, req: []string{"Authorization", "Bearer x"}, stored: true},
		{name: "authorization s-maxage", status: 200, hdr: []string{"Cache-Control", "s-maxage=60"}, req: []string{"Authorization", "Bearer x"}, stored: true},
		{name: "authorization must-revalidate", status: 200, hdr: []string{"Cache-Control", "max-age=60, must-revalidate"}, req: []string{"Authorization", "Bearer x"}, stored: true},
		{name: "404 heuristic", status: 404, hdr: []string{"Last-Modified", lm}, stored: true},
		{name: "410 heuristic", status: 410, hdr: []string{"Last-Modified", lm}, stored: true},
		{name: "302 without freshness", status: 302, hdr: []string{"Location", "/x", "Last-Modified", lm}, stored: false},
		{name: "302 with max-age", status: 302, hdr: []string{"Location", "/x", "Cache-Control", "max-age=60"}, stored: true},
		{name: "500 without freshness", status: 500, hdr: []string{"Last-Modified", lm}, stored: false},
		{name: "503 with max-age", status: 503, hdr: []string{"Cache-Control", "max-age=60"}, stored: true},
		{name: "public makes any status heuristic", status: 302, hdr: []string{"Location", "/x", "Cache-Control", "public", "Last-Modified", lm}, stored: true},
		{name: "max-age=0 no validator", status: 200, hdr: []string{"Cache-Control", "max-age=0"}, stored: false},
		{name: "request no-store", status: 200, hdr: []string{"Cache-Control", "max-age=60"}, req: []string{"Cache-Control", "no-store"}, stored: false},
		{name: "targeted no-store beats cache-control", status: 200, hdr: []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"}, stored: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*edge.Config)
			if tt.site != nil {
				opts = append(opts, tt.site)
			}
			hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i+1 < len(tt.hdr); i += 2 {
					w.Header().Add(tt.hdr[i], tt.hdr[i+1])
				}
				w.WriteHeader(tt.status)
				w.Write([]byte("body"))
			}, opts...)
			first := hs.get("/x", tt.req...)
			second := hs.get("/x", tt.req...)
			if first.code != tt.status || second.code != tt.status {
				t.Fatalf("status %d, %d; want %d", first.code, second.code, tt.status)
			}
			want := int64(2)
			if tt.stored {
				want = 1
			}
			hs.expectHits(want)
			if tt.stored && !strings.Contains(second.status(), "hit") {
				t.Errorf("second Cache-Status = %q, want a hit", second.status())
			}
			if tt.noCookie && second.header.Get("Set-Cookie") != "" {
				t.Errorf("stored response kept Set-Cookie")
			}
		})
	}
}

// TestFreshnessLifetime checks s-maxage over max-age over Expires over the
// heuristic by reading the ttl the edge reports on the first hit.
func TestFreshnessLifetime(t *testing.T) {
	now := testkit.NewClock().Now()
	tests := []struct {
		name string
		hdr  []string
		ttl  int
	}{
		{"s-maxage wins", []string{"Cache-Control", "max-age=100, s-maxage=50", "Expires", now.Add(time.Hour).Format(http.TimeFormat)}, 50},
		{"max-age over expires", []string{"Cache-Control", "max-age=100", "Expires", now.Add(time.Hour).Format(http.TimeFormat)}, 100},
		{"expires", []string{"Expires", now.Add(time.Hour).Format(http.TimeFormat)}, 3600},
		{"heuristic 10% of last-modified age", []string{"Last-Modified", now.Add(-10 * time.Hour).Format(http.TimeFormat)}, 3600},
		{"heuristic capped", []string{"Last-Modified", now.Add(-100 * 24 * time.Hour).Format(http.TimeFormat)}, 86400},
		{"cdn-cache-control over cache-control", []string{"Cache-Control", "max-age=10", "CDN-Cache-Control", "max-age=300"}, 300},
		{"surrogate-control over cache-control", []string{"Cache-Control", "max-age=10", "Surrogate-Control", "max-age=200"}, 200},
		{"cdn-cache-control over surrogate-control", []string{"CDN-Cache-Control", "max-age=30", "Surrogate-Control", "max-age=200"}, 30},
		{"targeted field ignores expires", []string{"Expires", now.Add(time.Hour).Format(http.TimeFormat), "CDN-Cache-Control", "max-age=40"}, 40},
		{"repeated max-age takes the smallest", []string{"Cache-Control", "max-age=100, max-age=20"}, 20},
		{"upstream age counts", []string{"Cache-Control", "max-age=100", "Age", "30"}, 70},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, fixed("x", tt.hdr...))
			hs.get("/x")
			r := hs.get("/x")
			want := "tern-test-edge; hit; ttl=" + strconv.Itoa(tt.ttl)
			if r.status() != want {
				t.Errorf("Cache-Status = %q, want %q", r.status(), want)
			}
		})
	}
}

func TestTargetedFieldsNotPassedToClients(t *testing.T) {
	hdr := []string{"Cache-Control", "no-cache", "CDN-Cache-Control", "max-age=60", "Surrogate-Control", "max-age=60", "Surrogate-Key", "a b"}
	hs := newHarness(t, fixed("x", hdr...))
	for i := 0; i < 2; i++ {
		r := hs.get("/x")
		for _, f := range []string{"CDN-Cache-Control", "Surrogate-Control", "Surrogate-Key"} {
			if r.header.Get(f) != "" {
				t.Errorf("request %d: %s reached the client", i, f)
			}
		}
		if r.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("Cache-Control for browsers changed: %q", r.header.Get("Cache-Control"))
		}
	}
	hs.expectHits(1)

	// A shield keeps them for the edges behind it.
	shield := newHarness(t, fixed("x", hdr...), func(c *edge.Config) { c.ClientFacing = false })
	r := shield.get("/x")
	if r.header.Get("CDN-Cache-Control") == "" || r.header.Get("Surrogate-Key") != "a b" {
		t.Errorf("shield dropped targeted fields: %v", r.header)
	}
}

// TestHitFieldsPerSecond: hits share their Cache-Status and Age while
// the entry's whole seconds of age and freshness stay the same, and see
// them change the moment they do, at any fraction of a second.
func TestHitFieldsPerSecond(t *testing.T) {
	start := testkit.NewClock().Now()
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", start.Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte("x"))
	})
	hs.clock.Set(start.Add(300 * time.Millisecond)) // 0.3 s old on arrival
	hs.get("/x")
	for _, tt := range []struct {
		at       time.Duration // since Date
		age, ttl string
	}{
		{300 * time.Millisecond, "0", "ttl=599"},
		{800 * time.Millisecond, "0", "ttl=599"},
		{1300 * time.Millisecond, "1", "ttl=598"},
		{2 * time.Second, "2", "ttl=598"}, // a whole second: 598 left exactly
		{2001 * time.Millisecond, "2", "ttl=597"},
		{2300 * time.Millisecond, "2", "ttl=597"},
	} {
		hs.clock.Set(start.Add(tt.at))
		r := hs.get("/x")
		if got := r.header.Get("Age"); got != tt.age {
			t.Errorf("at %v: Age = %q, want %s", tt.at, got, tt.age)
		}
		if cs := r.header.Get("Cache-Status"); !strings.Contains(cs, "; hit; "+tt.ttl) {
			t.Errorf("at %v: Cache-Status = %q, want %s", tt.at, cs, tt.ttl)
		}
	}
	hs.expectHits(1)
}

func TestAge(t *testing.T) {
	hs := newHarness(t, fixed("x", "Cache-Control", "max-age=600", "Age", "10"))
	if got := hs.get("/x").header.Get("Age"); got != "10" {
		t.Errorf("Age on miss = %q, want 10", got)
	}
	hs.clock.Advance(5 * time.Second)
	if got := hs.get("/x").header.Get("Age"); got != "15" {
		t.Errorf("Age on hit = %q, want 15", got)
	}
	// Apparent age: a Date in the past counts when larger than Age.
	hs2 := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", testkit.NewClock().Now().Add(-40*time.Second).Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte("x"))
	})
	hs2.get("/x")
	if got := hs2.get("/x").header.Get("Age"); got != "40" {
		t.Errorf("Age from apparent age = %q, want 40", got)
	}
}

// TestRequestDirectives covers the client's Cache-Control on a stored
// response aged 30s with max-age=60.
func TestRequestDirectives(t *testing.T) {
	tests := []struct {
		name    string
		req     []string
		advance time.Duration
		code    int
		hits    int64 // origin requests in all, the first fill included
	}{
		{"plain hit", nil, 30 * time.Second, 200, 1},
		{"max-age below age revalidates", []string{"Cache-Control", "max-age=10"}, 30 * time.Second, 200, 2},
		{"max-age above age hits", []string{"Cache-Control", "max-age=100"}, 30 * time.Second, 200, 1},
		{"min-fresh beyond ttl revalidates", []string{"Cache-Control", "min-fresh=40"}, 30 * time.Second, 200, 2},
		{"min-fresh within ttl hits", []string{"Cache-Control", "min-fresh=20"}, 30 * time.Second, 200, 1},
		{"no-cache revalidates", []string{"Cache-Control", "no-cache"}, 0, 200, 2},
		{"pragma no-cache revalidates", []string{"Pragma", "no-cache"}, 0, 200, 2},
		{"max-stale accepts stale", []string{"Cache-Control", "max-stale=100"}, 90 * time.Second, 200, 1},
		{"max-stale too small", []string{"Cache-Control", "max-stale=10"}, 90 * time.Second, 200, 2},
		{"max-stale any", []string{"Cache-Control", "max-stale"}, 900 * time.Second, 200, 1},
		{"stale without max-stale", nil, 90 * time.Second, 200, 2},
		{"only-if-cached stored", []string{"Cache-Control", "only-if-cached"}, 0, 200, 1},
		{"only-if-cached stale", []string{"Cache-Control", "only-if-cached"}, 90 * time.Second, 504, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, fixed("x", "Cache-Control", "max-age=60"))
			hs.get("/x")
			hs.clock.Advance(tt.advance)
			r := hs.get("/x", tt.req...)
			if r.code != tt.code {
				t.Fatalf("status %d, want %d (%s)", r.code, tt.code, r.status())
			}
			hs.expectHits(tt.hits)
		})
	}
	t.Run("only-if-cached miss", func(t *testing.T) {
		hs := newHarness(t, fixed("x", "Cache-Control", "max-age=60"))
		if r := hs.get("/x", "Cache-Control", "only-if-cached"); r.code != 504 {
			t.Fatalf("status %d, want 504", r.code)
		}
		hs.expectHits(0)
	})
	t.Run("no-store request is not stored", func(t *testing.T) {
		hs := newHarness(t, fixed("x", "Cache-Control", "max-age=60"))
		hs.get("/x", "Cache-Control", "no-store")
		hs.get("/x")
		hs.expectHits(2)
	})
}

func TestHeadFromCachedGet(t *testing.T) {
	hs := newHarness(t, fixed("hello", "Cache-Control", "max-age=60", "Content-Type", "text/plain"))
	hs.get("/x")
	r := hs.do(http.MethodHead, "/x")
	if r.code != 200 || r.body != "" || r.header.Get("Content-Length") != "5" || !strings.Contains(r.status(), "hit") {
		t.Fatalf("HEAD: %d %q %v", r.code, r.body, r.header)
	}
	// A HEAD miss fills with a GET, so the next GET hits.
	hs2 := newHarness(t, fixed("hello", "Cache-Control", "max-age=60"))
	if r := hs2.do(http.MethodHead, "/y"); r.body != "" || r.code != 200 {
		t.Fatalf("HEAD miss: %d %q", r.code, r.body)
	}
	// The HEAD returns before the fill ends, so the GET may still join it.
	if r := hs2.get("/y"); r.body != "hello" || !(strings.Contains(r.status(), "hit") || strings.Contains(r.status(), "collapsed")) {
		t.Fatalf("GET after HEAD: %q %q", r.body, r.status())
	}
	hs2.expectHits(1)
}
