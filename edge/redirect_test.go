package edge_test

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
)

// rawResponse writes raw to a server at addr and reads one response.
func rawResponse(t *testing.T, addr, raw string) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	resp.Body.Close()
	return resp
}

// TestHTTPSRedirectHostileTargets sends odd request targets in plain HTTP
// to a site that redirects to HTTPS: each gets 400 or a redirect whose
// Location names the site's own host and port with a clean absolute path,
// never another host (an open redirect).
func TestHTTPSRedirectHostileTargets(t *testing.T) {
	hs := newHarness(t, fixed("x"), func(c *edge.Config) {
		c.Sites[0].RedirectHTTPS = true
		c.HTTPSPort = 8443
	})
	srv := listenEdge(t, hs.h)
	go srv.Serve()
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	const want = "https://www.cdn.test:8443"

	tests := []struct {
		target string
		// location is the exact Location expected; "" expects a 400.
		location string
	}{
		{"/a/b?q=1", want + "/a/b?q=1"},
		{"http:@evil.com", ""},
		{"http:evil.com", ""},
		{"https:@evil.com/x", ""},
		{"*", ""},
		{"//evil.com/x", want + "/evil.com/x"},
		{"///evil.com", want + "/evil.com"},
		{"/\\evil.com", want + "/%5Cevil.com"},
		{"/\\/evil.com/", want + "/%5C/evil.com/"},
		{"/%2F%2Fevil.com", want + "/%2F%2Fevil.com"},
		{"http://www.cdn.test//evil.com/x?y", want + "/evil.com/x?y"},
		{"http://www.cdn.test/@evil.com", want + "/@evil.com"},
		{"/x?@evil.com", want + "/x?@evil.com"},
	}
	for _, tt := range tests {
		resp := rawResponse(t, srv.Addr().String(), "GET "+tt.target+" HTTP/1.1\r\nHost: www.cdn.test\r\nConnection: close\r\n\r\n")
		loc := resp.Header.Get("Location")
		if tt.location == "" {
			if resp.StatusCode != http.StatusBadRequest || loc != "" {
				t.Errorf("%q: %d, Location %q; want 400", tt.target, resp.StatusCode, loc)
			}
			continue
		}
		if resp.StatusCode != http.StatusPermanentRedirect || loc != tt.location {
			t.Errorf("%q: %d, Location %q; want 308 to %q", tt.target, resp.StatusCode, loc, tt.location)
		}
		u, err := url.Parse(loc)
		if err != nil || u.Host != "www.cdn.test:8443" || u.User != nil || strings.HasPrefix(u.EscapedPath(), "//") {
			t.Errorf("%q: Location %q leaves the site", tt.target, loc)
		}
	}
	hs.expectHits(0)
}
