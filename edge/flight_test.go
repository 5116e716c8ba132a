package edge

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/store"
)

// TestReadFromKeepsLength: a fill buffer that a body fills exactly is not
// doubled at the end, whether its reader reports io.EOF with the last bytes
// or on a read of its own (as a LimitReader at its limit and HTTP/2 bodies
// do); a body longer than the buffer grows it and arrives whole.
func TestReadFromKeepsLength(t *testing.T) {
	for _, tt := range []struct {
		name    string
		size    int
		hint    int64
		wantCap int
		half    bool // the reader returns half of what is asked each time
	}{
		{name: "announced, EOF on its own read", size: 100 << 10, hint: 100 << 10, wantCap: 100 << 10},
		{name: "announced, half reads", size: 100 << 10, hint: 100 << 10, wantCap: 100 << 10, half: true},
		{name: "unknown, exactly the first buffer", size: 32 << 10, hint: -1, wantCap: 32 << 10},
		{name: "unknown, longer than the first buffer", size: 40 << 10, hint: -1, wantCap: 64 << 10, half: true},
		{name: "announced too short", size: 70 << 10, hint: 50 << 10, wantCap: 100 << 10},
		{name: "empty", size: 0, hint: 0, wantCap: 32 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16)
			var r io.Reader = bytes.NewReader(want)
			if tt.half {
				r = iotest.HalfReader(r)
			}
			f := newFlight("k", nil, nil)
			got, err := f.readFrom(r, tt.hint)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("readFrom = %d bytes, %v; want the %d bytes", len(got), err, len(want))
			}
			if cap(got) != tt.wantCap {
				t.Errorf("buffer capacity %d, want %d", cap(got), tt.wantCap)
			}
			f.complete(got)
			var seen bytes.Buffer
			if _, err := f.writeRange(t.Context(), &seen, func() {}, 0, -1); err != nil || !bytes.Equal(seen.Bytes(), want) {
				t.Errorf("readers see %d bytes, %v; want the %d bytes", seen.Len(), err, len(want))
			}
		})
	}
}

func TestStoredBody(t *testing.T) {
	for _, tt := range []struct {
		len, cap int
		copied   bool
	}{
		{100, 32 << 10, true},
		{30 << 10, 32 << 10, false},   // 2 KiB spare: not worth a copy
		{40 << 10, 64 << 10, true},    // 24 KiB spare
		{950 << 10, 1 << 20, false},   // 74 KiB spare, under an eighth
		{600 << 10, 1 << 20, true},    // 424 KiB spare
		{100 << 10, 100 << 10, false}, // exact
	} {
		b := make([]byte, tt.len, tt.cap)
		b[0] = 7
		s := storedBody(b)
		if len(s) != tt.len || s[0] != 7 {
			t.Errorf("len %d cap %d: stored %d bytes, first %d", tt.len, tt.cap, len(s), s[0])
		}
		if copied := &s[0] != &b[0]; copied != tt.copied {
			t.Errorf("len %d cap %d: copied = %v, want %v", tt.len, tt.cap, copied, tt.copied)
		}
		if tt.copied && cap(s) != tt.len {
			t.Errorf("len %d cap %d: the copy has capacity %d", tt.len, tt.cap, cap(s))
		}
	}
}

// slowStore holds every Set until released: the window in which a fill's
// clients have their whole body and the fill is still storing it.
type slowStore struct {
	httpcache.Store
	release chan struct{}
	setting chan struct{}
}

func (s *slowStore) Set(key string, e *httpcache.Entry, ttl time.Duration) bool {
	select {
	case s.setting <- struct{}{}:
	default:
	}
	<-s.release
	return s.Store.Set(key, e, ttl)
}

// TestNoJoinAfterResponse: a request that arrives after a fill's response
// came in, while the fill still stores it, takes that response only if it
// is fresh enough for the request. A max-age=0 response is fetched again
// (it must be revalidated before each use); a max-age=60 one is shared.
func TestNoJoinAfterResponse(t *testing.T) {
	for _, tt := range []struct {
		cc        string
		wantFetch int64
	}{
		{"max-age=0, must-revalidate", 2},
		{"max-age=60", 1},
	} {
		t.Run(tt.cc, func(t *testing.T) {
			var fetches atomic.Int64
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := fetches.Add(1)
				w.Header().Set("Cache-Control", tt.cc)
				w.Header().Set("ETag", `"v"`) // a max-age=0 response is stored only with a validator
				w.Header().Set("Content-Length", "5")
				fmt.Fprintf(w, "body%d", n)
			}))
			defer origin.Close()
			mem, err := store.NewMemory(1 << 20)
			if err != nil {
				t.Fatal(err)
			}
			defer mem.Close()
			slow := &slowStore{Store: mem, release: make(chan struct{}), setting: make(chan struct{}, 1)}
			u, _ := url.Parse(origin.URL)
			h, err := NewHandler(Config{
				Node:            "test-edge",
				Sites:           []Site{{Name: "test", Hosts: []string{"www.cdn.test"}, Origin: u}},
				Upstream:        http.DefaultTransport.(*http.Transport).Clone(),
				ClientFacing:    true,
				Store:           slow,
				UpstreamTimeout: 5 * time.Second,
				Registerer:      prometheus.NewRegistry(),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			// Over a real listener, as in a fleet: a client has its answer
			// once Content-Length bytes arrived, while the handler may still
			// be storing it.
			srv := newEdgeServer(t, h)
			defer srv.Close()
			type answer struct {
				code        int
				body, cache string
			}
			// A connection each: the first one's handler is still running.
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			get := func() answer {
				req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
				req.Host = "www.cdn.test"
				resp, err := client.Do(req)
				if err != nil {
					return answer{body: err.Error()}
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					return answer{body: err.Error()}
				}
				return answer{resp.StatusCode, string(b), resp.Header.Get("Cache-Status")}
			}
			first := make(chan answer, 1)
			go func() { first <- get() }()
			<-slow.setting // the first fill has its response and is storing it
			a := <-first   // and its client has the whole body
			second := make(chan answer, 1)
			go func() { second <- get() }()
			var b answer
			if tt.wantFetch == 2 {
				// The second request fetches on its own and then stores
				// too; answered without a fetch, it joined the first.
				select {
				case <-slow.setting:
					close(slow.release)
					b = <-second
				case b = <-second:
					close(slow.release)
				}
			} else {
				b = <-second
				close(slow.release)
			}
			if a.code != 200 || b.code != 200 {
				t.Fatalf("status %d (%s), %d (%s)", a.code, a.body, b.code, b.body)
			}
			if got := fetches.Load(); got != tt.wantFetch {
				t.Errorf("origin fetches = %d, want %d (second: %q, %s)", got, tt.wantFetch, b.body, b.cache)
			}
			if want := fmt.Sprintf("body%d", tt.wantFetch); b.body != want {
				t.Errorf("second body %q, want %q", b.body, want)
			}
		})
	}
}
