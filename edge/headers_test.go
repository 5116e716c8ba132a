package edge_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/tern-cdn/tern/edge"
)

func TestHopByHopAndForwarding(t *testing.T) {
	hs := newHarness(t, fixed("x", "Cache-Control", "max-age=60", "Connection", "X-Secret", "X-Secret", "1",
		"Alt-Svc", `h3=":443"`, "Keep-Alive", "timeout=5", "Cache-Status", "origin-cache; hit"))
	r := hs.get("/x",
		"Connection", "X-Client-Hop", "X-Client-Hop", "1", "Proxy-Authorization", "Basic eA==",
		"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.example", "Forwarded", "for=6.6.6.6",
		"X-Original-URL", "/admin", "X-HTTP-Method-Override", "DELETE", "X-Forwarded-Proto", "https")
	up := hs.origin.lastHeader()
	for _, f := range []string{"X-Client-Hop", "Proxy-Authorization", "X-Original-Url", "X-Http-Method-Override"} {
		if up.Get(f) != "" {
			t.Errorf("%s forwarded upstream", f)
		}
	}
	checks := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Host":  "www.cdn.test",
		"X-Forwarded-Proto": "http",
		"Forwarded":         `for=127.0.0.1;host="www.cdn.test";proto=http`,
		"Via":               "1.1 test-edge",
	}
	for f, want := range checks {
		if got := up.Get(f); got != want {
			t.Errorf("upstream %s = %q, want %q", f, got, want)
		}
	}
	for _, f := range []string{"X-Secret", "Alt-Svc", "Keep-Alive"} {
		if r.header.Get(f) != "" {
			t.Errorf("%s reached the client", f)
		}
	}
	if got := r.status(); got != "origin-cache; hit, tern-test-edge; fwd=miss; stored" {
		t.Errorf("Cache-Status chain = %q", got)
	}
	if got := hs.get("/x").status(); strings.Contains(got, "origin-cache") {
		t.Errorf("stored response replays the upstream's Cache-Status: %q", got)
	}
}

func TestTrustedProxyForwarding(t *testing.T) {
	hs := newHarness(t, fixed("x"), func(c *edge.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	hs.get("/x", "X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "https", "Forwarded", "for=203.0.113.7")
	up := hs.origin.lastHeader()
	if got := up.Get("X-Forwarded-For"); got != "203.0.113.7, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if got := up.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got := up.Get("Forwarded"); !strings.HasPrefix(got, "for=203.0.113.7, for=127.0.0.1") {
		t.Errorf("Forwarded = %q", got)
	}
}

func TestUnknownHostNeverReachesUpstream(t *testing.T) {
	hs := newHarness(t, fixed("x", "Cache-Control", "max-age=60"))
	for _, host := range []string{"evil.example", "www.cdn.test.evil.example", "", "127.0.0.1"} {
		r := hs.get("/x", "Host", host)
		if r.code != http.StatusMisdirectedRequest {
			t.Errorf("Host %q: status %d", host, r.code)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodDelete, "PURGE"} {
		if r := hs.do(m, "/x", "Host", "evil.example"); r.code != http.StatusMisdirectedRequest {
			t.Errorf("%s to unknown host: %d", m, r.code)
		}
	}
	hs.expectHits(0)
	if got := hs.metric("tern_edge_requests_total", "cache", "error", "code", "4xx"); got != 7 {
		t.Errorf("error requests counted %v, want 7", got)
	}
}

func TestHostNormalization(t *testing.T) {
	hs := newHarness(t, fixed("x", "Cache-Control", "max-age=60"))
	hs.get("/x", "Host", "WWW.CDN.TEST:8080")
	if r := hs.get("/x", "Host", "www.cdn.test."); !strings.Contains(r.status(), "hit") {
		t.Errorf("normalized host did not share the entry: %q", r.status())
	}
	hs.get("/a%2db?q=%7e")
	if r := hs.get("/a-b?q=~"); !strings.Contains(r.status(), "hit") {
		t.Errorf("equivalent percent-encoding did not share the entry: %q", r.status())
	}
	hs.expectHits(2)
}

func TestLoopDetected(t *testing.T) {
	hs := newHarness(t, fixed("x"))
	if r := hs.get("/x", "Via", "1.1 other, 1.1 test-edge"); r.code != http.StatusLoopDetected {
		t.Fatalf("status %d", r.code)
	}
	hs.expectHits(0)
}

// TestKeyHeaders: a site that keys on X-Forwarded-Host gets it forwarded,
// with one cache entry per value; other sites never forward it.
func TestKeyHeaders(t *testing.T) {
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("host=" + r.Header.Get("X-Forwarded-Host")))
	}, func(c *edge.Config) { c.Sites[0].KeyHeaders = []string{"X-Forwarded-Host"} })
	for round := 0; round < 2; round++ {
		for _, v := range []string{"a.example", "b.example"} {
			if r := hs.get("/x", "X-Forwarded-Host", v); r.body != "host="+v {
				t.Errorf("round %d, %s: body %q", round, v, r.body)
			}
		}
	}
	hs.expectHits(2)
}
