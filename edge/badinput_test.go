package edge_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/internal/testkit"
)

// rawRequest writes raw bytes to a server listening at addr and returns
// the status line of the reply ("" if the server closed without one).
func rawRequest(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		return ""
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// TestBadRequests sends malformed and hostile requests to the edge on a
// real listener (with the same limits the node's server uses): each gets
// a clear 4xx and none reaches the origin.
func TestBadRequests(t *testing.T) {
	hs := newHarness(t, fixed("x", "Cache-Control", "max-age=60"))
	srv := listenEdge(t, hs.h)
	go srv.Serve()
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	addr := srv.Addr().String()
	originHost := strings.TrimPrefix(hs.origin.URL, "http://")

	tests := []struct {
		name, raw, want string
	}{
		{"garbage", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", "HTTP/1.1 400"},
		{"no version", "GET /\r\n\r\n", "HTTP/1.1 400"},
		{"bad method token", "G(T / HTTP/1.1\r\nHost: www.cdn.test\r\n\r\n", "HTTP/1.1 400"},
		{"space in header name", "GET / HTTP/1.1\r\nHost: www.cdn.test\r\nBad Header: 1\r\n\r\n", "HTTP/1.1 400"},
		{"two hosts", "GET / HTTP/1.1\r\nHost: www.cdn.test\r\nHost: evil.example\r\n\r\n", "HTTP/1.1 400"},
		{"no host", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
		{"oversized header", "GET / HTTP/1.1\r\nHost: www.cdn.test\r\nX-Big: " + strings.Repeat("a", 100<<10) + "\r\n\r\n", "HTTP/1.1 431"},
		{"oversized request line", "GET /" + strings.Repeat("a", 100<<10) + " HTTP/1.1\r\nHost: www.cdn.test\r\n\r\n", "HTTP/1.1 431"},
		{"absolute-form to another host", "GET http://" + originHost + "/x HTTP/1.1\r\nHost: www.cdn.test\r\n\r\n", "HTTP/1.1 421"},
		{"absolute-form to evil", "GET http://evil.example/x HTTP/1.1\r\nHost: www.cdn.test\r\n\r\n", "HTTP/1.1 421"},
		{"connect", "CONNECT " + originHost + " HTTP/1.1\r\nHost: www.cdn.test\r\n\r\n", "HTTP/1.1 4"},
		{"connect to site", "CONNECT www.cdn.test:80 HTTP/1.1\r\nHost: www.cdn.test\r\n\r\n", "HTTP/1.1 405"},
		{"trace", "TRACE / HTTP/1.1\r\nHost: www.cdn.test\r\n\r\n", "HTTP/1.1 405"},
		// net/http answers OPTIONS * itself, without the handler.
		{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: www.cdn.test\r\n\r\n", "HTTP/1.1 200"},
		{"bad range", "GET /x HTTP/1.1\r\nHost: www.cdn.test\r\nRange: bytes=--1\r\n\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rawRequest(t, addr, tt.raw)
			if tt.want != "" && !strings.HasPrefix(got, tt.want) {
				t.Fatalf("status line %q, want %q", got, tt.want)
			}
		})
	}
	// Only the bad-range request reached the origin (to fill the cache).
	hs.expectHits(1)
	if got := rawRequest(t, addr, "GET /x HTTP/1.1\r\nHost: www.cdn.test\r\nRange: bytes=5-1\r\n\r\n"); got != "HTTP/1.1 416 Requested Range Not Satisfiable" {
		t.Errorf("reversed range: %q", got)
	}
}

// TestRangeAbuseIsBounded sends the overlapping-ranges amplification
// request: the edge must not answer with more bytes than the object.
func TestRangeAbuseIsBounded(t *testing.T) {
	body := strings.Repeat("z", 1000)
	hs := newHarness(t, fixed(body, "Cache-Control", "max-age=60"))
	var ranges []string
	for i := 0; i < 1300; i++ {
		ranges = append(ranges, fmt.Sprintf("%d-%d", i%500, 999))
	}
	r := hs.get("/x", "Range", "bytes="+strings.Join(ranges, ","))
	if len(r.body) > len(body)+1000 {
		t.Fatalf("answered %d bytes for a %d byte object (status %d)", len(r.body), len(body), r.code)
	}
	if r.code != http.StatusOK && r.code != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("status %d", r.code)
	}
}

// TestClientGoneDuringFill checks that a client leaving mid-fill neither
// stops the fill for another client waiting for it nor leaks goroutines
// (goleak in TestMain). (A fill whose every client has gone is cancelled:
// TestLastClientGoneCancelsFill.)
func TestClientGoneDuringFill(t *testing.T) {
	release := make(chan struct{})
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("done"))
	})
	req := httptest.NewRequest("GET", "/x", nil)
	req.Host = "www.cdn.test"
	ctx, cancel := contextWithCancel(t)
	req = req.WithContext(ctx)
	rec := httptest.NewRecorder()
	finished := make(chan struct{})
	go func() { hs.h.ServeHTTP(rec, req); close(finished) }()
	testkit.Eventually(t, 5*time.Second, "hs.hits() == 1", func() bool { return hs.hits() == 1 })
	stays := make(chan result, 1)
	go func() { stays <- hs.get("/x") }()
	testkit.Eventually(t, 5*time.Second, `hs.metric("tern_edge_collapsed_waiters_total") == 1`, func() bool { return hs.metric("tern_edge_collapsed_waiters_total") == 1 })
	cancel()
	<-finished
	close(release)
	if r := <-stays; r.body != "done" {
		t.Fatalf("the client that stayed got %d %q", r.code, r.body)
	}
	testkit.Eventually(t, 5*time.Second, "the finished body to be served from cache", func() bool {
		r := hs.get("/x")
		return r.body == "done" && strings.Contains(r.status(), "hit")
	})
	hs.expectHits(1)
}

// TestUnknownLengthBodyBeyondLimit: an origin streaming a body of unknown
// length past max_object_size never makes the edge buffer all of it: that
// fill is cut, and the URL is then passed through, streamed, in full.
func TestUnknownLengthBodyBeyondLimit(t *testing.T) {
	chunk := strings.Repeat("c", 16<<10)
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		for i := 0; i < 16; i++ { // 256 KiB, chunked
			w.Write([]byte(chunk))
			w.(http.Flusher).Flush()
		}
	}, func(c *edge.Config) { c.MaxObjectSize = 64 << 10 })

	req, _ := http.NewRequest("GET", hs.edge.URL+"/big", nil)
	req.Host = "www.cdn.test"
	if resp, err := hs.client.Do(req); err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && len(b) == 16*len(chunk) {
			t.Fatalf("the first response was served whole (%d bytes) past the buffer limit", len(b))
		}
	}
	r := hs.get("/big")
	if len(r.body) != 16*len(chunk) || !strings.Contains(r.status(), "fwd=bypass") {
		t.Fatalf("passed through: %d bytes, %q", len(r.body), r.status())
	}
	if hs.store.Bytes() > 64<<10 {
		t.Errorf("store holds %d bytes", hs.store.Bytes())
	}
}
