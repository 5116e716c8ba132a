package edge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/tern-cdn/tern/configs"
)

// unkeyedHeaders are request fields origins build responses from (scheme,
// original path, client address) that the cache key does not hold.
var unkeyedHeaders = []string{
	"X-Forwarded-Scheme", "X-Forwarded-Ssl", "Front-End-Https", "X-Url-Scheme",
	"X-Forwarded-Uri", "X-Envoy-Original-Path", "True-Client-IP", "X-Client-IP",
	"CF-Connecting-IP",
}

// hostileValues sends each unkeyed field with a value that would change a
// naive origin's answer.
func hostileValues() []string {
	var hdr []string
	for _, f := range unkeyedHeaders {
		hdr = append(hdr, f, "http")
	}
	return hdr
}

// railsLike is an origin that, like Rails' force_ssl behind a proxy,
// answers a cacheable 301 when X-Forwarded-Scheme says http, and records
// every request's header.
type railsLike struct {
	*httptest.Server
	mu   sync.Mutex
	seen []http.Header
}

func newRailsLike(t *testing.T) *railsLike {
	o := &railsLike{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.seen = append(o.seen, r.Header.Clone())
		o.mu.Unlock()
		w.Header().Set("Cache-Control", "public, max-age=600")
		if r.Header.Get("X-Forwarded-Scheme") == "http" {
			w.Header().Set("Location", "https://www.cdn.test"+r.URL.RequestURI())
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		io.WriteString(w, "scheme="+r.Header.Get("X-Forwarded-Scheme"))
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *railsLike) headers() []http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]http.Header(nil), o.seen...)
}

// expectNoneSeen fails if any origin request carried an unkeyed field.
func (o *railsLike) expectNoneSeen(t *testing.T, except ...string) {
	t.Helper()
	for i, h := range o.headers() {
	next:
		for _, f := range unkeyedHeaders {
			for _, e := range except {
				if http.CanonicalHeaderKey(e) == http.CanonicalHeaderKey(f) {
					continue next
				}
			}
			if v := h.Values(f); len(v) > 0 {
				t.Errorf("origin request %d carried %s: %q", i, f, v)
			}
		}
	}
}

// TestUnkeyedHeadersDropped: a client's X-Forwarded-Scheme (and the other
// scheme, path and client-address fields) never reaches the origin, so it
// cannot make the origin answer a redirect that is then served, from the
// cache, to every later visitor.
func TestUnkeyedHeadersDropped(t *testing.T) {
	o := newRailsLike(t)
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) { o.Config.Handler.ServeHTTP(w, r) })
	if r := hs.get("/page", hostileValues()...); r.code != http.StatusOK {
		t.Errorf("attacker's request: %d %q", r.code, r.header.Get("Location"))
	}
	if r := hs.get("/page"); r.code != http.StatusOK || r.body != "scheme=" {
		t.Errorf("later visitor: %d %q, Location %q", r.code, r.body, r.header.Get("Location"))
	}
	o.expectNoneSeen(t)
	hs.expectHits(1)
}

// TestUnkeyedHeadersDroppedTwoTiers: through edge → shield → origin the
// origin never sees the fields; a site keying on one of them gets it
// forwarded through both tiers, with one cache entry per value.
func TestUnkeyedHeadersDroppedTwoTiers(t *testing.T) {
	o := newRailsLike(t)
	f := startFleetWith(t, 1, 1, fleetOpts{sites: []fleetSite{{"test", "www.cdn.test", o.URL}}, topology: func(top *configs.Topology) {
		keyed := top.Sites[0]
		keyed.Name, keyed.Hosts = "keyed", []string{"keyed.cdn.test"}
		keyed.KeyHeaders = []string{"X-Forwarded-Scheme"}
		top.Sites = append(top.Sites, keyed)
	}})
	addr := f.nodes["edge-1"].Listen
	get := func(host string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/page", nil)
		req.Host = host
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("www.cdn.test", hostileValues()...); code != http.StatusOK || body != "scheme=" {
		t.Errorf("attacker's request: %d %q", code, body)
	}
	if code, body := get("www.cdn.test"); code != http.StatusOK || body != "scheme=" {
		t.Errorf("later visitor: %d %q", code, body)
	}
	o.expectNoneSeen(t)
	if n := len(o.headers()); n != 1 {
		t.Errorf("origin requests for the unkeyed site: %d, want 1", n)
	}

	// The keyed site: each value is its own entry, the origin sees it.
	for round := 0; round < 2; round++ {
		if code, _ := get("keyed.cdn.test", "X-Forwarded-Scheme", "http"); code != http.StatusMovedPermanently {
			t.Errorf("round %d, keyed http: %d", round, code)
		}
		if code, body := get("keyed.cdn.test", "X-Forwarded-Scheme", "https"); code != http.StatusOK || body != "scheme=https" {
			t.Errorf("round %d, keyed https: %d %q", round, code, body)
		}
		if code, body := get("keyed.cdn.test"); code != http.StatusOK || body != "scheme=" {
			t.Errorf("round %d, keyed none: %d %q", round, code, body)
		}
	}
	seen := o.headers()
	if len(seen) != 4 {
		t.Fatalf("origin requests: %d, want 4 (one per keyed value)", len(seen))
	}
	o.expectNoneSeen(t, "X-Forwarded-Scheme")
}
