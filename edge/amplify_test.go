package edge_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/internal/testkit"
)

// slowOrigin answers only once released, and counts the requests that
// were cancelled while they waited. Its handler must be released before
// the harness closes the origin (which waits for handlers).
type slowOrigin struct {
	release   chan struct{}
	cancelled atomic.Int64
}

func (o *slowOrigin) serve(w http.ResponseWriter, r *http.Request) {
	select {
	case <-o.release:
	case <-r.Context().Done():
		o.cancelled.Add(1)
		return
	}
	w.Header().Set("Cache-Control", "max-age=60")
	w.Write([]byte("slow"))
}

// slowHarness is a harness in front of a slowOrigin, served over TLS (h1,
// h2) and HTTP/3.
func slowHarness(t *testing.T) (*harness, *slowOrigin, string, *x509.CertPool) {
	o := &slowOrigin{release: make(chan struct{})}
	hs := newHarness(t, o.serve)
	addr, roots := startSecure(t, hs)
	t.Cleanup(func() { close(o.release) }) // first: before the origin closes
	return hs, o, addr, roots
}

// rapidReset opens one h2 connection to addr and sends up to n pairs of
// HEADERS and RST_STREAM for cache-busting URLs, without reading. It
// returns how many pairs it wrote before the edge closed the connection,
// and whether the edge closed it (GOAWAY, or the connection ended) within
// a few seconds of the last write.
func rapidReset(t *testing.T, addr string, roots *x509.CertPool, n int) (sent int, closed bool) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "www.cdn.test", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	var wmu sync.Mutex // the reader acknowledges settings on the same framer
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	// Read frames in the background: the server must see its SETTINGS
	// acknowledged, and a GOAWAY or the connection's end means closed.
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		rf := http2.NewFramer(nil, conn)
		for {
			f, err := rf.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					wmu.Lock()
					fr.WriteSettingsAck()
					wmu.Unlock()
				}
			case *http2.GoAwayFrame:
				return
			}
		}
	}()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for i := 0; i < n; i++ {
		hbuf.Reset()
		for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "www.cdn.test"}, {":path", fmt.Sprintf("/bust?%d", i)}} {
			enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		id := uint32(2*i + 1)
		wmu.Lock()
		err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndStream: true, EndHeaders: true})
		if err == nil {
			err = fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		wmu.Unlock()
		if err != nil {
			break // the edge closed the connection
		}
		sent++
		select {
		case <-ended:
			return sent, true
		default:
		}
	}
	select {
	case <-ended:
		return sent, true
	case <-time.After(5 * time.Second):
		return sent, false
	}
}

// TestH2RapidResetBounded is the HTTP/2 rapid reset attack on cache-busting
// URLs against a slow origin: each reset request must not leave a fetch
// running for nobody, and the connection must be closed once it has
// abandoned more fills than its budget.
func TestH2RapidResetBounded(t *testing.T) {
	hs, o, addr, roots := slowHarness(t)
	const pairs = 2000
	sent, closed := rapidReset(t, addr, roots, pairs)
	// Once the connection is gone every fill it started must end: the
	// origin sees each of its requests cancelled.
	allCancelled := testkit.Within(2*time.Second, func() bool { return o.cancelled.Load() == hs.hits() })
	t.Logf("%d HEADERS+RST_STREAM pairs sent, %d origin fetches, %d cancelled; connection closed: %v", sent, hs.hits(), o.cancelled.Load(), closed)
	if !allCancelled {
		t.Errorf("fills left running for nobody: %d of %d origin requests not cancelled", hs.hits()-o.cancelled.Load(), hs.hits())
	}
	if !closed || hs.metric("tern_edge_abandon_budget_closed_connections_total") < 1 {
		t.Errorf("the edge did not close the connection for its abandoned fills after %d reset requests", sent)
	}
	if got := hs.hits(); got > 100 {
		t.Errorf("origin fetches = %d for %d reset requests, want ≤ 100", got, sent)
	}
}

// TestH3CancelledRequestsBounded cancels HTTP/3 requests for cache-busting
// URLs once they reach the origin: their fills are cancelled and, past its
// budget, the QUIC connection is closed.
func TestH3CancelledRequestsBounded(t *testing.T) {
	hs, o, addr, roots := slowHarness(t)
	_, port, _ := net.SplitHostPort(addr)
	h3 := clients(t, addr, roots)["h3"].Transport.(*http3.Transport)
	const n = 500
	var closedErr error
	sent := 0
	for i := 0; i < n && closedErr == nil; i++ {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("https://www.cdn.test:%s/bust?%d", port, i), nil)
		before := hs.hits()
		done := make(chan error, 1)
		go func() {
			// After the first request, only the connection it opened: a
			// closed connection shows as an error, not as a new dial.
			resp, err := h3.RoundTripOpt(req, http3.RoundTripOpt{OnlyCachedConn: i > 0})
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			done <- err
		}()
		var err error
		finished := false
		for deadline := time.Now().Add(2 * time.Second); !finished && hs.hits() == before && time.Now().Before(deadline); {
			select {
			case err = <-done:
				finished = true
			case <-time.After(time.Millisecond):
			}
		}
		cancel()
		if !finished {
			err = <-done
		}
		sent++
		if err != nil && !errors.Is(err, context.Canceled) {
			closedErr = err
		}
	}
	allCancelled := testkit.Within(2*time.Second, func() bool { return o.cancelled.Load() == hs.hits() })
	t.Logf("%d requests cancelled, %d origin fetches, %d cancelled; connection error: %v", sent, hs.hits(), o.cancelled.Load(), closedErr)
	if !allCancelled {
		t.Errorf("fills left running for nobody: %d of %d origin requests not cancelled", hs.hits()-o.cancelled.Load(), hs.hits())
	}
	if closedErr == nil {
		t.Errorf("the QUIC connection survived %d abandoned requests", sent)
	}
	if got := hs.hits(); got > 100 {
		t.Errorf("origin fetches = %d for %d cancelled requests, want ≤ 100", got, sent)
	}
}

// abandonGet sends a GET for path to srv and cancels it once the origin
// behind hs has seen one more request; it returns the status when the edge
// answered first (0 when the request was cancelled).
func abandonGet(t *testing.T, srv string, hs *harness, path string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv+path, nil)
	req.Host = "www.cdn.test"
	before := hs.hits()
	type answer struct {
		code int
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		resp.Body.Close()
		done <- answer{code: resp.StatusCode}
	}()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		select {
		case a := <-done:
			if a.err != nil {
				t.Fatal(a.err)
			}
			return a.code
		case <-time.After(time.Millisecond):
		}
		if hs.hits() > before {
			break
		}
	}
	cancel()
	<-done
	return 0
}

// TestLastClientGoneCancelsFill: a fill whose only client leaves before
// the response arrived is cancelled, at each tier, and the next request
// starts a fill of its own.
func TestLastClientGoneCancelsFill(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d tiers", n), func(t *testing.T) {
			o := &slowOrigin{release: make(chan struct{})}
			ts := startTiers(t, n, o.serve)
			t.Cleanup(func() { close(o.release) })
			if code := abandonGet(t, ts.front.URL, ts.origin, "/x"); code != 0 {
				t.Fatalf("answered %d before the origin", code)
			}
			if !testkit.Within(2*time.Second, func() bool { return o.cancelled.Load() == 1 }) {
				t.Fatalf("the origin request was not cancelled (%d of %d)", o.cancelled.Load(), ts.origin.hits())
			}
			if got := ts.origin.metric("tern_edge_abandoned_fills_total"); got != 1 {
				t.Errorf("abandoned fills at the tier next to the origin = %v, want 1", got)
			}
			// A new request does not join the cancelled fill.
			if code := abandonGet(t, ts.front.URL, ts.origin, "/x"); code != 0 {
				t.Fatalf("answered %d", code)
			}
			ts.origin.expectHits(2)
		})
	}
}

// TestAbandonBudgetPerNetwork: a network that keeps starting fills and
// leaving them, over new connections each time (HTTP/1.1), gets 429 for
// new fills once its budget is spent, while hits are still served; the
// budget refills with time.
func TestAbandonBudgetPerNetwork(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d tiers", n), func(t *testing.T) {
			o := &slowOrigin{release: make(chan struct{})}
			// The front tier's registry: a fill's abandonment is charged
			// once its handler returns, after the client has gone, so
			// each abandoned request is awaited before the next.
			front := prometheus.NewRegistry()
			ts := startTiers(t, n, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/ok" {
					w.Header().Set("Cache-Control", "max-age=600")
					w.Write([]byte("ok"))
					return
				}
				o.serve(w, r)
			}, func(c *edge.Config) {
				if c.ClientFacing {
					c.Registerer = front
				}
			})
			t.Cleanup(func() { close(o.release) })
			if _, body := ts.get(t, "/ok"); body != "ok" {
				t.Fatalf("body %q", body)
			}
			refusedAt := -1
			for i := 0; i < 60 && refusedAt < 0; i++ {
				switch code := abandonGet(t, ts.front.URL, ts.origin, fmt.Sprintf("/bust?%d", i)); code {
				case 0:
					testkit.Eventually(t, 5*time.Second, "the abandoned fill charged", func() bool {
						return testkit.Sum(t, front, "tern_edge_abandoned_fills_total") == float64(i+1)
					})
				case http.StatusTooManyRequests:
					refusedAt = i
				default:
					t.Fatalf("request %d: status %d", i, code)
				}
			}
			if refusedAt != 50 {
				t.Fatalf("first refused fill: %d, want 50 (the budget)", refusedAt)
			}
			fills := ts.origin.hits()
			resp, body := ts.get(t, "/ok")
			if body != "ok" || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
				t.Errorf("a hit was refused: %d %q", resp.StatusCode, resp.Header.Get("Cache-Status"))
			}
			resp, _ = ts.get(t, "/bust?more")
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Errorf("new fill: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			ts.origin.expectHits(fills)
			ts.origin.clock.Advance(10 * time.Second)
			if code := abandonGet(t, ts.front.URL, ts.origin, "/bust?later"); code != 0 {
				t.Errorf("after the budget refilled: %d", code)
			}
		})
	}
}

// TestSparseRangesOnColdObject sends 16 one-byte ranges, one in each
// slice, of a 16 MiB object nobody has fetched yet: the edge must fetch
// about what it answers (the head's slice plus the bytes asked for), not
// all 16 slices; through two tiers too. The answer must still be right,
// and again once the head is stored.
func TestSparseRangesOnColdObject(t *testing.T) {
	const size, slice = 16 << 20, 1 << 20
	video := randomBody(size, 11)
	var specs []string
	var want [][2]int
	for i := 0; i < 16; i++ {
		at := i*slice + 7*i + 5
		specs = append(specs, fmt.Sprintf("%d-%d", at, at))
		want = append(want, [2]int{at, at + 1})
	}
	rangeHdr := "bytes=" + strings.Join(specs, ",")
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d tiers", n), func(t *testing.T) {
			o := newRangeOrigin()
			o.set("/v.mp4", video, "v1")
			ts := startTiers(t, n, o.ServeHTTP, func(c *edge.Config) { c.SliceSize = slice })
			for round := 0; round < 2; round++ {
				before := o.sent.Load()
				resp, body := ts.get(t, "/v.mp4", "Range", rangeHdr)
				checkParts(t, resp, body, video, want)
				if round == 0 {
					// The head's fill goes on storing slice 0 after the
					// answer, which needed one byte of it: count it all.
					testkit.Within(5*time.Second, func() bool { return o.sent.Load()-before >= slice })
				}
				sent := o.sent.Load() - before
				t.Logf("round %d: %d origin body bytes for a %d byte response", round, sent, len(body))
				if round == 0 && sent > slice+64<<10 {
					t.Errorf("origin sent %d bytes (%.1f slices) for 16 one-byte ranges", sent, float64(sent)/slice)
				}
				if round == 1 && sent > 64<<10 {
					t.Errorf("second request: origin sent %d bytes", sent)
				}
			}
		})
	}
}

// checkParts checks a multipart/byteranges answer against want's ranges
// of body.
func checkParts(t *testing.T, resp *http.Response, got string, body []byte, want [][2]int) {
	t.Helper()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusPartialContent || err != nil {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(strings.NewReader(got), params["boundary"])
	for _, w := range want {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if string(b) != string(body[w[0]:w[1]]) || p.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", w[0], w[1]-1, len(body)) {
			t.Fatalf("part %v: %q %q", w, b, p.Header.Get("Content-Range"))
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("after the last part: %v", err)
	}
}
