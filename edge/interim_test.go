package edge_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// hintsOrigin sends a 103 Early Hints with a Link and an X-Hint field,
// then a final response without them.
func hintsOrigin(cc string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		date := h.Get("Date")
		h.Del("Date")
		h.Set("Link", "</hint.css>; rel=preload; as=style")
		h.Set("X-Hint", "1")
		w.WriteHeader(http.StatusEarlyHints)
		clear(h)
		h.Set("Date", date)
		h.Set("Cache-Control", cc)
		h.Set("Content-Type", "text/plain")
		io.WriteString(w, "final")
	}
}

// interim is one informational response a client saw.
type interim struct {
	code   int
	header textproto.MIMEHeader
}

// doHinted sends req with c and returns the final response, its body and
// the 1xx responses that came before it.
func doHinted(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string, []interim) {
	t.Helper()
	var mu sync.Mutex
	var got []interim
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			mu.Lock()
			got = append(got, interim{code, textproto.MIMEHeader(http.Header(h).Clone())})
			mu.Unlock()
			return nil
		},
	}))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return resp, string(b), got
}

// checkHinted fails unless the exchange relayed exactly the origin's 103
// (when hinted) and the final response carries none of its fields.
func checkHinted(t *testing.T, what string, resp *http.Response, body string, got []interim, hinted bool) {
	t.Helper()
	if resp.StatusCode != 200 || body != "final" {
		t.Errorf("%s: %d %q", what, resp.StatusCode, body)
	}
	if v := resp.Header.Values("Link"); len(v) != 0 || resp.Header.Get("X-Hint") != "" {
		t.Errorf("%s: the final response carries the hints' fields: Link %q X-Hint %q", what, v, resp.Header.Get("X-Hint"))
	}
	if !hinted {
		if len(got) != 0 {
			t.Errorf("%s: got 1xx %+v, want none", what, got)
		}
		return
	}
	if len(got) != 1 || got[0].code != http.StatusEarlyHints ||
		got[0].header.Get("Link") != "</hint.css>; rel=preload; as=style" || got[0].header.Get("X-Hint") != "1" {
		t.Errorf("%s: got 1xx %+v, want one 103 with the origin's Link and X-Hint", what, got)
	}
}

// TestEarlyHintsRelayedOverEveryProtocol: the origin's 103 reaches the
// client over HTTP/1.1, HTTP/2 and HTTP/3, on a miss and on a pass; a hit
// has none, and neither response carries the hints' fields.
func TestEarlyHintsRelayedOverEveryProtocol(t *testing.T) {
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		cc := "max-age=60"
		if r.Method == http.MethodPost {
			cc = "no-store"
		}
		hintsOrigin(cc)(w, r)
	})
	addr, roots := startSecure(t, hs)
	_, port, _ := net.SplitHostPort(addr)
	for proto, c := range clients(t, addr, roots) {
		url := "https://www.cdn.test:" + port + "/" + proto
		for _, step := range []struct {
			name   string
			method string
			hinted bool
		}{{"miss", "GET", true}, {"hit", "GET", false}, {"pass", "POST", true}} {
			req, _ := http.NewRequest(step.method, url, strings.NewReader(""))
			resp, body, got := doHinted(t, c, req)
			checkHinted(t, proto+" "+step.name, resp, body, got, step.hinted)
		}
	}
}

// TestEarlyHintsThroughShield: the shield relays the origin's 103 to the
// edge, which relays it to the client; the stored copies at both tiers
// carry none of its fields, so another edge's miss (a shield hit) gets no
// 103 and no hint fields.
func TestEarlyHintsThroughShield(t *testing.T) {
	ts := startTiers(t, 2, hintsOrigin("max-age=60"))
	get := func(srv string) (*http.Response, string, []interim) {
		req, _ := http.NewRequest("GET", srv+"/x", nil)
		req.Host = "www.cdn.test"
		return doHinted(t, ts.front.Client(), req)
	}
	resp, body, got := get(ts.front.URL)
	checkHinted(t, "miss at both tiers", resp, body, got, true)
	resp, body, got = get(ts.front.URL)
	checkHinted(t, "edge hit", resp, body, got, false)
	other := edgeBehind(t, ts.origin, "edge-b")
	ts.origin.h.WaitSettled(t)
	resp, body, got = get(other.URL)
	checkHinted(t, "shield hit", resp, body, got, false)
	if s := resp.Header.Get("Cache-Status"); !strings.HasPrefix(s, "tern-shield; hit") {
		t.Errorf("shield hit: Cache-Status %q", s)
	}
	ts.origin.expectHits(1)
}
