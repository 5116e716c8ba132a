package edge_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestRequestTargetReencoded: an HTTP/2 or HTTP/3 :path may carry bytes
// (space, '#', non-ASCII) that are not allowed in an HTTP/1.1 request
// target; the edge percent-encodes them on the HTTP/1.1 hop to the origin,
// so a space cannot end the target and inject text into the request line,
// and the raw and the encoded form share one cache entry.
func TestRequestTargetReencoded(t *testing.T) {
	var mu sync.Mutex
	var targets []string
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		targets = append(targets, r.RequestURI)
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "target="+r.RequestURI)
	})
	addr, roots := startSecure(t, hs)
	_, port, _ := net.SplitHostPort(addr)
	cs := clients(t, addr, roots)
	tests := []struct {
		proto, query, want string
	}{
		{"h2", "h2space=1 HTTP/1.1", "/reflect?h2space=1%20HTTP/1.1"},
		{"h3", "h3space=1 HTTP/1.1", "/reflect?h3space=1%20HTTP/1.1"},
		{"h2", "frag=1#x", "/reflect?frag=1%23x"},
		{"h3", "utf8=\xc3\xa9", "/reflect?utf8=%C3%A9"},
		{"h2", "ff=\xff\\", "/reflect?ff=%FF%5C"},
		{"h2", "pct=%zz&arr[]=1", "/reflect?pct=%25zz&arr[]=1"},
	}
	for _, tt := range tests {
		req, err := http.NewRequest("GET", "https://www.cdn.test:"+port+"/reflect", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = tt.query
		resp, err := cs[tt.proto].Do(req)
		if err != nil {
			t.Errorf("%s %q: %v", tt.proto, tt.query, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "target="+tt.want {
			t.Errorf("%s %q: %d %q, want the origin to see %q", tt.proto, tt.query, resp.StatusCode, b, tt.want)
		}
		// The encoded form, as an HTTP/1.1 client sends it, is a hit.
		enc := strings.TrimPrefix(tt.want, "/reflect?")
		req, _ = http.NewRequest("GET", "https://www.cdn.test:"+port+"/reflect?"+enc, nil)
		resp, err = cs["h1"].Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if st := resp.Header.Get("Cache-Status"); !strings.Contains(st, "hit") {
			t.Errorf("%q over h1 after %s: Cache-Status %q, want a hit", enc, tt.proto, st)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, target := range targets {
		if strings.ContainsAny(target, " \t#") {
			t.Errorf("origin saw the target %q", target)
		}
	}
	hs.expectHits(int64(len(tests)))
}
