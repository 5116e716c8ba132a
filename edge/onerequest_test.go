package edge_test

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
)

// oneRequestOrigin serves a 5,000-byte object at /<kind>/<n> with
// http.ServeContent (ranges and conditionals honoured), the kind deciding
// whether it may be stored, and counts requests per path.
type oneRequestOrigin struct {
	mu   sync.Mutex
	hits map[string]int
}

const oneRequestSize = 5000

func (o *oneRequestOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits[r.URL.Path]++
	o.mu.Unlock()
	kind, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("ETag", `"v1"`)
	hdr.Set("Cache-Control", "max-age=600")
	switch kind {
	case "private":
		hdr.Set("Cache-Control", "private, max-age=600")
	case "nostore":
		hdr.Set("Cache-Control", "no-store")
	case "missing":
		hdr.Del("Cache-Control")
		hdr.Del("ETag")
		w.WriteHeader(http.StatusNotFound)
		w.Write(stressBody(r.URL.Path, oneRequestSize))
		return
	case "cookie":
		hdr.Set("Set-Cookie", "session=1")
	case "varystar":
		hdr.Set("Vary", "*")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(stressBody(r.URL.Path, oneRequestSize)))
}

func (o *oneRequestOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

// oneRequestCase is a request sent twice for a fresh object: the first is
// a miss, the second a hit or a pass.
type oneRequestCase struct {
	name   string
	kind   string // the origin's kind of object
	method string
	hdr    []string
	code   int
	// first and last are the bytes of the body; last < 0: none.
	first, last int
	// stored says the second request is a hit: no origin request.
	stored bool
}

func oneRequestCases() []oneRequestCase {
	var cases []oneRequestCase
	for _, kind := range []string{"store", "private", "nostore", "missing", "cookie", "varystar", "auth"} {
		var auth []string
		if kind == "auth" {
			auth = []string{"Authorization", "Bearer t"}
		}
		code, rangeCode, first, last := http.StatusOK, http.StatusPartialContent, 100, 1099
		if kind == "missing" {
			code, rangeCode, first, last = http.StatusNotFound, http.StatusNotFound, 0, oneRequestSize-1
		}
		stored := kind == "store"
		cases = append(cases,
			oneRequestCase{name: kind, kind: kind, hdr: auth, code: code, last: oneRequestSize - 1, stored: stored},
			oneRequestCase{name: kind + "-range", kind: kind, hdr: append([]string{"Range", "bytes=100-1099"}, auth...),
				code: rangeCode, first: first, last: last, stored: stored},
			oneRequestCase{name: kind + "-head", kind: kind, method: http.MethodHead, hdr: auth, code: code, last: -1, stored: stored},
		)
	}
	return append(cases,
		oneRequestCase{name: "nostore-if-none-match", kind: "nostore", hdr: []string{"If-None-Match", `"v1"`},
			code: http.StatusNotModified, last: -1},
		oneRequestCase{name: "nostore-if-range-mismatch", kind: "nostore", hdr: []string{"Range", "bytes=100-1099", "If-Range", `"v0"`},
			code: http.StatusOK, last: oneRequestSize - 1},
		oneRequestCase{name: "nostore-suffix-range", kind: "nostore", hdr: []string{"Range", "bytes=-10"},
			code: http.StatusPartialContent, first: oneRequestSize - 10, last: oneRequestSize - 1},
		oneRequestCase{name: "nostore-unsatisfiable", kind: "nostore", hdr: []string{"Range", "bytes=9000-"},
			code: http.StatusRequestedRangeNotSatisfiable, last: -1},
	)
}

// runOneRequestCases sends each case twice to base and checks the answers
// and that each request the cache may not answer from its store made
// exactly one origin request.
func runOneRequestCases(t *testing.T, o *oneRequestOrigin, base string) {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	for i, c := range oneRequestCases() {
		t.Run(c.name, func(t *testing.T) {
			path := fmt.Sprintf("/%s/%d", c.kind, i)
			whole := stressBody(path, oneRequestSize)
			for n, wantHits := range []int{1, 2} {
				if c.stored && n > 0 {
					wantHits = 1
				}
				req, _ := http.NewRequest(cmp.Or(c.method, http.MethodGet), base+path, nil)
				req.Host = "www.cdn.test"
				for j := 0; j+1 < len(c.hdr); j += 2 {
					req.Header.Set(c.hdr[j], c.hdr[j+1])
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("request %d: body: %v", n+1, err)
				}
				var want []byte
				if c.last >= 0 {
					want = whole[c.first : c.last+1]
				}
				// An unsatisfiable range's body is whatever text says so.
				bodyOK := bytes.Equal(body, want) || c.code == http.StatusRequestedRangeNotSatisfiable
				if resp.StatusCode != c.code || !bodyOK {
					t.Errorf("request %d: %d with %d bytes (%q), want %d with %d", n+1, resp.StatusCode, len(body),
						resp.Header.Get("Cache-Status"), c.code, len(want))
				}
				if c.code == http.StatusPartialContent {
					if cr, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", c.first, c.last, oneRequestSize); cr != want {
						t.Errorf("request %d: Content-Range %q, want %q", n+1, cr, want)
					}
				}
				if got := o.count(path); got != wantHits {
					t.Errorf("after request %d: %d origin requests, want %d (%q)", n+1, got, wantHits, resp.Header.Get("Cache-Status"))
				}
			}
		})
	}
}

// TestOneOriginRequestPerClientRequest: whatever may or may not be stored,
// with or without a client range, a client request the cache cannot answer
// from its store makes one origin request, through one tier and through
// two (over h2c and HTTP/1.1 between them).
func TestOneOriginRequestPerClientRequest(t *testing.T) {
	t.Run("edge", func(t *testing.T) {
		o := &oneRequestOrigin{hits: map[string]int{}}
		hs := newHarness(t, o.ServeHTTP, func(c *edge.Config) { c.SliceSize = 1 << 20 })
		runOneRequestCases(t, o, hs.edge.URL)
	})
	for _, proto := range []string{"h2c", "http/1.1"} {
		t.Run("shield-"+strings.ReplaceAll(proto, "/", ""), func(t *testing.T) {
			o := &oneRequestOrigin{hits: map[string]int{}}
			srv := httptest.NewServer(o)
			t.Cleanup(srv.Close)
			f := startFleetProto(t, srv.URL, 2, 1, proto)
			runOneRequestCases(t, o, "http://"+f.nodes["edge-1"].Listen)
		})
	}
}
