package edge_test

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
)

// The stress test sends a mix of requests from many concurrent clients
// through edge → shield → origin and checks every answer byte for byte:
// cacheable objects (shared by many clients, so fills collapse and hits
// follow), objects that may not be stored (no-store, private, Set-Cookie,
// 404), whole and ranged GETs and HEADs. Objects fit in one slice, so
// every client request for an object that may not be stored must make
// exactly one origin request.

// stressKinds are the kinds of object the stress origin serves; the first
// is the only one that may be stored.
var stressKinds = []string{"cache", "nostore", "private", "cookie", "missing"}

// stressSizes are the body sizes, small ones more often.
var stressSizes = []int{0, 1, 5000, 5000, 16000, 70000}

// stressBody is the body of the object at path: bytes that differ from
// one object and one offset to the next, so a misplaced byte shows.
func stressBody(path string, size int) []byte {
	h := fnv.New32a()
	io.WriteString(h, path)
	seed := h.Sum32()
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte((uint32(i)*7+seed+uint32(i>>8))%26)
	}
	return b
}

// stressOrigin serves /<kind>/<size>/<id>. Even ids are served with
// http.ServeContent (ranges honoured), odd ones written whole (ranges
// ignored), as origins do both. It counts requests per kind.
type stressOrigin struct {
	mu     sync.Mutex
	byKind map[string]int
}

func (o *stressOrigin) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) != 3 {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	kind := parts[0]
	size, _ := strconv.Atoi(parts[1])
	id, _ := strconv.Atoi(parts[2])
	o.mu.Lock()
	o.byKind[kind]++
	o.mu.Unlock()
	body := stressBody(r.URL.Path, size)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	switch kind {
	case "cache":
		hdr.Set("Cache-Control", "max-age=600")
	case "nostore":
		hdr.Set("Cache-Control", "no-store")
	case "private":
		hdr.Set("Cache-Control", "private, max-age=600")
	case "cookie":
		hdr.Set("Cache-Control", "max-age=600")
		hdr.Set("Set-Cookie", "session="+parts[2])
	case "missing":
		hdr.Set("Content-Length", strconv.Itoa(size))
		w.WriteHeader(http.StatusNotFound)
		w.Write(body)
		return
	}
	if id%2 == 0 {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(size))
	w.Write(body)
}

func (o *stressOrigin) requests(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byKind[kind]
}

// stressRequest is one request of the mix and what it must get.
type stressRequest struct {
	method, path, rng string
	kind              string
	size              int
	// first and last are the bytes a ranged GET must get (when the answer
	// is a 206).
	first, last int
}

// pickStressRequest draws one request. Cacheable objects come from a small
// shared set; half of the others are shared too (collapsed pass fills and
// hit-for-pass), half are requested once.
func pickStressRequest(rnd *rand.Rand, unique *atomic.Int64) stressRequest {
	q := stressRequest{method: http.MethodGet, kind: stressKinds[rnd.IntN(len(stressKinds))]}
	q.size = stressSizes[rnd.IntN(len(stressSizes))]
	var id int64
	switch {
	case q.kind == "cache" || rnd.IntN(2) == 0:
		id = int64(rnd.IntN(24))
	default:
		id = 1000 + unique.Add(1)
	}
	q.path = fmt.Sprintf("/%s/%d/%d", q.kind, q.size, id)
	switch n := rnd.IntN(10); {
	case n < 2:
		q.method = http.MethodHead
	case n < 6 && q.size > 0:
		q.first = rnd.IntN(q.size)
		q.last = q.first + rnd.IntN(q.size-q.first)
		switch rnd.IntN(3) {
		case 0:
			q.rng = fmt.Sprintf("bytes=%d-%d", q.first, q.last)
		case 1:
			q.rng, q.last = fmt.Sprintf("bytes=%d-", q.first), q.size-1
		default:
			n := q.last - q.first + 1
			q.rng, q.first, q.last = fmt.Sprintf("bytes=-%d", n), q.size-n, q.size-1
		}
	}
	return q
}

// check sends q to the edge and reports what is wrong with the answer.
func (q stressRequest) check(ctx context.Context, c *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, q.method, base+q.path, nil)
	if err != nil {
		return err
	}
	req.Host = "www.cdn.test"
	if q.rng != "" {
		req.Header.Set("Range", q.rng)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%d after %d body bytes: %w", resp.StatusCode, len(got), err)
	}
	if resp.ContentLength >= 0 && q.method == http.MethodGet && resp.ContentLength != int64(len(got)) {
		return fmt.Errorf("Content-Length %d, %d bytes", resp.ContentLength, len(got))
	}
	whole := stressBody(q.path, q.size)
	wantCode := http.StatusOK
	if q.kind == "missing" {
		wantCode = http.StatusNotFound
	}
	switch {
	case q.method == http.MethodHead:
		if resp.StatusCode != wantCode || len(got) != 0 {
			return fmt.Errorf("HEAD: %d with %d body bytes", resp.StatusCode, len(got))
		}
		if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(q.size) {
			return fmt.Errorf("HEAD: Content-Length %s, want %d", cl, q.size)
		}
		return nil
	case q.rng != "" && resp.StatusCode == http.StatusPartialContent && q.kind != "missing":
		want := fmt.Sprintf("bytes %d-%d/%d", q.first, q.last, q.size)
		if cr := resp.Header.Get("Content-Range"); cr != want {
			return fmt.Errorf("Content-Range %q, want %q", cr, want)
		}
		whole = whole[q.first : q.last+1]
	case q.rng != "" && q.kind == "cache":
		// A stored object's ranges are answered by the edge.
		return fmt.Errorf("ranged GET of a cacheable object: %d, want 206", resp.StatusCode)
	case resp.StatusCode != wantCode:
		// A range of an object that may not be stored may come whole, as
		// from an origin that ignores ranges.
		return fmt.Errorf("status %d, want %d", resp.StatusCode, wantCode)
	}
	if !bytes.Equal(got, whole) {
		return fmt.Errorf("%d: %d body bytes differ from the %d expected", resp.StatusCode, len(got), len(whole))
	}
	return nil
}

// TestStress runs 200 concurrent clients, three requests each, through an
// edge in front of the origin, and through edge → shield → origin over h2c
// and over HTTP/1.1 between the tiers.
func TestStress(t *testing.T) {
	t.Run("edge", func(t *testing.T) {
		o := &stressOrigin{byKind: map[string]int{}}
		hs := newHarness(t, o.serve, func(c *edge.Config) { c.SliceSize = 1 << 20 })
		runStress(t, o, hs.edge.URL)
	})
	for _, proto := range []string{"h2c", "http/1.1"} {
		t.Run("shield-"+strings.ReplaceAll(proto, "/", ""), func(t *testing.T) {
			o := &stressOrigin{byKind: map[string]int{}}
			srv := httptest.NewServer(http.HandlerFunc(o.serve))
			t.Cleanup(srv.Close)
			f := startFleetProto(t, srv.URL, 2, 1, proto)
			runStress(t, o, "http://"+f.nodes["edge-1"].Listen)
		})
	}
}

func runStress(t *testing.T, o *stressOrigin, base string) {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	start := time.Now()
	const clients, perClient = 200, 3
	var (
		unique  atomic.Int64
		mu      sync.Mutex
		errs    []string
		passReq = map[string]int{}
		wg      sync.WaitGroup
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), 42))
			for range perClient {
				q := pickStressRequest(rnd, &unique)
				err := q.check(t.Context(), client, base)
				mu.Lock()
				if q.kind != "cache" {
					passReq[q.kind]++
				}
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s %s %q: %v", q.method, q.path, q.rng, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if i == 20 {
			t.Errorf("... and %d more", len(errs)-i)
			break
		}
		t.Error(e)
	}
	for _, kind := range stressKinds[1:] {
		if got, want := o.requests(kind), passReq[kind]; got != want {
			t.Errorf("%s: %d origin requests for %d client requests", kind, got, want)
		}
	}
	t.Logf("%d requests in %v, %d failed; origin requests for cacheable objects: %d", clients*perClient, time.Since(start).Round(time.Millisecond), len(errs), o.requests("cache"))
}
