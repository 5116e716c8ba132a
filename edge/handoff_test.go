package edge_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/internal/testkit"
)

// TestHandoffOfASlice: the fill of an object larger than a slice asks for
// the slice holding the client's first byte; when the object may not be
// stored, that slice answers a range inside it and a HEAD without a second
// origin request, and the whole object or a range past the slice is asked
// for again, whole and right.
func TestHandoffOfASlice(t *testing.T) {
	const size = oneRequestSize
	o := &oneRequestOrigin{hits: map[string]int{}}
	hs := newHarness(t, o.ServeHTTP, func(c *edge.Config) { c.SliceSize = 1000 })
	for i, c := range []struct {
		name        string
		method, rng string
		code        int
		first, last int // the body's bytes; last < 0: none
		hits        int
	}{
		{"range-in-first-slice", "GET", "bytes=100-199", http.StatusPartialContent, 100, 199, 1},
		{"range-in-third-slice", "GET", "bytes=2500-2999", http.StatusPartialContent, 2500, 2999, 1},
		{"head", "HEAD", "", http.StatusOK, 0, -1, 1},
		// Without the length, a suffix's slice is not known: the fill asks
		// for the first.
		{"suffix-range", "GET", "bytes=-10", http.StatusPartialContent, size - 10, size - 1, 2},
		{"range-across-slices", "GET", "bytes=900-1099", http.StatusPartialContent, 900, 1099, 2},
		{"whole", "GET", "", http.StatusOK, 0, size - 1, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := fmt.Sprintf("/nostore/slice-%d", i)
			var hdr []string
			if c.rng != "" {
				hdr = []string{"Range", c.rng}
			}
			res := hs.do(c.method, p, hdr...)
			var want []byte
			if c.last >= 0 {
				want = stressBody(p, size)[c.first : c.last+1]
			}
			if res.code != c.code || res.body != string(want) {
				t.Errorf("%d with %d bytes (%q), want %d with %d", res.code, len(res.body), res.status(), c.code, len(want))
			}
			if c.method == "HEAD" && res.header.Get("Content-Length") != strconv.Itoa(size) {
				t.Errorf("HEAD Content-Length %q, want %d", res.header.Get("Content-Length"), size)
			}
			if got := o.count(p); got != c.hits {
				t.Errorf("%d origin requests, want %d", got, c.hits)
			}
		})
	}
}

// TestHandoffEndsWithItsClient: the upstream request of a response handed
// to its creator ends when that client goes, though the fill that made it
// has returned.
func TestHandoffEndsWithItsClient(t *testing.T) {
	var ended atomic.Bool
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Write(bytes.Repeat([]byte("x"), 1000))
		w.(http.Flusher).Flush()
		select { // a long poll that never ends by itself
		case <-r.Context().Done():
			ended.Store(true)
		case <-time.After(10 * time.Second):
		}
	})
	ctx, cancel := contextWithCancel(t)
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.edge.URL+"/poll", nil)
	req.Host = "www.cdn.test"
	resp, err := hs.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
		t.Fatalf("first bytes: %v", err)
	}
	cancel()
	resp.Body.Close()
	testkit.Eventually(t, 5*time.Second, "the handoff to end", ended.Load)
}
