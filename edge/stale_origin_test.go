package edge_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
)

// Ways an origin fails, for the stale-if-error tests.
const (
	originOK       = iota
	originDropHead // sends the status line and header, then closes
	originDropBody // sends the header and part of the body, then closes
)

// failingOrigin answers with body and the given Cache-Control, unless
// told to fail; refusing connections is done by closing its server.
type failingOrigin struct {
	mode atomic.Int64
	body string
	cc   func(path string) string
}

func (o *failingOrigin) serve(w http.ResponseWriter, r *http.Request) {
	cc := o.cc(r.URL.Path)
	mode := o.mode.Load()
	if mode == originOK {
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(o.body)))
		w.Write([]byte(o.body))
		return
	}
	// A new body (another ETag), so a revalidation cannot end with a 304;
	// the connection goes away before it is whole.
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nCache-Control: %s\r\nETag: \"e2\"\r\nContent-Length: %d\r\n\r\n", cc, len(o.body))
	if mode == originDropBody {
		buf.WriteString(strings.ToUpper(o.body[:len(o.body)/2]))
	}
	buf.Flush()
}

// staleCases are the responses the tests store, by path: whether a stale
// copy may be served on error, and the status otherwise.
var staleCases = []struct {
	path, cc string
	stale    bool
}{
	{"/plain", "max-age=10", true},
	{"/own-window", "max-age=10, stale-if-error=3600", true},
	{"/must-revalidate", "max-age=10, must-revalidate", false},
	{"/proxy-revalidate", "max-age=10, proxy-revalidate", false},
	{"/s-maxage", "s-maxage=10", false},
	{"/no-cache", "no-cache, max-age=600", false},
}

func staleCC(path string) string {
	for _, c := range staleCases {
		if c.path == path {
			return c.cc
		}
	}
	return "max-age=10"
}

// TestStaleIfErrorOriginGone: with the origin cutting the response after
// its header, in the middle of the body, or refusing connections, a stale
// entry is served, exactly, with Cache-Status saying so, unless the
// response forbade it (must-revalidate, proxy-revalidate, s-maxage,
// no-cache): then the client gets a 504, never a cut body.
func TestStaleIfErrorOriginGone(t *testing.T) {
	body := strings.Repeat("stale-body ", 3000)
	o := &failingOrigin{body: body, cc: staleCC}
	hs := newHarness(t, o.serve, func(c *edge.Config) { c.Sites[0].Policy.StaleIfError = time.Hour })
	for _, c := range staleCases {
		if r := hs.get(c.path); r.code != 200 || r.body != body {
			t.Fatalf("%s: fill %d", c.path, r.code)
		}
	}
	hs.clock.Advance(time.Minute)
	check := func(failure string) {
		t.Helper()
		for _, c := range staleCases {
			r := hs.get(c.path)
			switch {
			case c.stale && (r.code != 200 || r.body != body || !strings.Contains(r.status(), "detail=stale-if-error") ||
				!strings.Contains(r.status(), "fwd-status=502")):
				t.Errorf("%s, %s: %d, body exact %v (%s)", failure, c.path, r.code, r.body == body, r.status())
			case !c.stale && r.code != http.StatusGatewayTimeout:
				t.Errorf("%s, %s (stale forbidden): %d (%s)", failure, c.path, r.code, r.status())
			}
		}
	}
	o.mode.Store(originDropHead)
	check("dropped after the header")
	o.mode.Store(originDropBody)
	check("dropped in the body")
	hs.origin.Close()
	check("refused")
}

// TestStaleIfErrorOriginGoneThroughShield runs real nodes, edge → shield
// → origin, with no stale_if_error in the topology: the fleet's default
// serves the stored copy while the origin cuts responses or refuses
// connections (from the shield, then from the edge alone once the shield
// is stopped), and must-revalidate still forbids it.
func TestStaleIfErrorOriginGoneThroughShield(t *testing.T) {
	body := strings.Repeat("shielded-stale ", 3000)
	// max-age=0: every request revalidates, so no clock has to move.
	o := &failingOrigin{body: body, cc: func(path string) string {
		if path == "/must-revalidate" {
			return "max-age=0, must-revalidate"
		}
		return "max-age=0"
	}}
	origin := httptest.NewServer(http.HandlerFunc(o.serve))
	defer origin.Close()
	f := startFleet(t, origin.URL, 1, 1)
	for _, p := range []string{"/plain", "/must-revalidate"} {
		if code, b, status := f.get(t, "edge-1", p); code != 200 || b != body {
			t.Fatalf("%s: fill %d %q", p, code, status)
		}
	}
	check := func(failure string) {
		t.Helper()
		if code, b, status := f.get(t, "edge-1", "/plain"); code != 200 || b != body {
			t.Errorf("%s: %d, body exact %v (%s)", failure, code, b == body, status)
		}
		if code, _, status := f.get(t, "edge-1", "/must-revalidate"); code != http.StatusBadGateway && code != http.StatusGatewayTimeout {
			t.Errorf("%s, must-revalidate: %d (%s)", failure, code, status)
		}
	}
	o.mode.Store(originDropHead)
	check("dropped after the header")
	o.mode.Store(originDropBody)
	check("dropped in the body")
	origin.Close()
	check("refused")
	// With the shield gone too, the edge serves its own copy.
	f.stop("shield-1")
	check("refused, no shield")
}
