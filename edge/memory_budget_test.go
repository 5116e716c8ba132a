package edge_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/store"
)

// memoryBudgetSlack is what the Go heap may grow by, beyond the memory
// tiers' budgets, while test caches store ten times their budget of tiny
// objects: the connections' buffers, the ristretto maps' spare room,
// metrics. Measured at 0.2-0.4 MiB (2 shared cores, go1.26, -race); 1 MiB
// leaves a margin. Before entries cost what they hold, the heap grew by
// over 60 MiB in the same test.
const memoryBudgetSlack = 1 << 20

// heapAfterGC is the live Go heap, after a full collection.
func heapAfterGC() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func newMemoryStore(t *testing.T, budget int64) *store.Memory {
	t.Helper()
	mem, err := store.NewMemory(budget)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mem.Close)
	return mem
}

// TestMemoryBudgetCacheBusting is issue 11 item 1: a client busting the
// cache with distinct query strings on a tiny object must not make a cache
// hold more than its memory budget (plus a fixed slack), however many
// objects it stores and evicts, through one tier and through two. Each
// object used to keep its whole 32 KiB fill buffer while costing its
// 100-byte length.
func TestMemoryBudgetCacheBusting(t *testing.T) {
	const budget = 512 << 10
	body := strings.Repeat("b", 100)
	for _, tiers := range []int{1, 2} {
		t.Run(fmt.Sprintf("tiers=%d", tiers), func(t *testing.T) {
			mems := []*store.Memory{newMemoryStore(t, budget)}
			hs := newHarness(t, fixed(body, "Cache-Control", "max-age=3600", "Content-Type", "text/css"),
				func(c *edge.Config) { c.Store = mems[0] })
			get := func(path string) (int, string) {
				r := hs.get(path)
				return r.code, r.body
			}
			if tiers == 2 {
				mems = append(mems, newMemoryStore(t, budget))
				srv := edgeBehindWith(t, hs, "edge", mems[1])
				get = func(path string) (int, string) {
					resp, b := edgeGet(t, srv, path)
					return resp.StatusCode, b
				}
			}
			get("/app.css?v=warm") // the connections and the caches' lazy state
			before := heapAfterGC()

			// Ten times the budget, counting each object at its body and
			// the fixed overhead only (its header adds more), in distinct
			// keys.
			n := 10 * budget / (len(body) + httpcache.EntryOverhead)
			for i := range n {
				if code, b := get(fmt.Sprintf("/app.css?v=%d", i)); code != 200 || b != body {
					t.Fatalf("request %d: %d %q", i, code, b)
				}
			}
			hs.expectHits(int64(n) + 1)
			grown := heapAfterGC() - before
			runtime.KeepAlive(hs)
			t.Logf("%d objects of %d bytes: heap grew by %.2f MiB for %d tiers of %.2f MiB", n, len(body), mib(grown), tiers, mib(budget))
			for i, mem := range mems {
				t.Logf("tier %d accounts %.2f MiB in %d objects", i, mib(mem.Bytes()), mem.Objects())
				// A tiny object must cost about its own size, not its
				// fill buffer's.
				if least := int64(budget / (2 << 10)); mem.Objects() < least {
					t.Errorf("tier %d holds %d objects, want at least %d: a %d-byte object costs too much", i, mem.Objects(), least, len(body))
				}
				if mem.Bytes() > budget {
					t.Errorf("tier %d accounts %d bytes, over its budget of %d", i, mem.Bytes(), budget)
				}
			}
			if limit := int64(tiers)*budget + memoryBudgetSlack; grown > limit {
				t.Errorf("the heap grew by %.2f MiB, over the %d budgets of %.2f MiB plus %.2f MiB",
					mib(grown), tiers, mib(budget), mib(memoryBudgetSlack))
			}
		})
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// TestStoredBodyCostsItsLength: a stored body costs about its length,
// whether the origin announced it (the fill buffer is then exactly that
// long, never doubled at the end) or not (a buffer grown by doubling is
// trimmed when the body is stored).
func TestStoredBodyCostsItsLength(t *testing.T) {
	for _, tt := range []struct {
		name    string
		size    int
		chunked bool
	}{
		{"announced 100 KiB", 100 << 10, false},
		{"announced 64 KiB", 64 << 10, false},
		{"chunked 40 KiB", 40 << 10, true},
		{"chunked 100 bytes", 100, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMemoryStore(t, 16<<20)
			rec := &recordingStore{Store: mem}
			body := strings.Repeat("c", tt.size)
			hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=3600")
				if !tt.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				io.WriteString(w, body[:len(body)/2])
				w.(http.Flusher).Flush()
				io.WriteString(w, body[len(body)/2:])
			}, func(c *edge.Config) { c.Store = rec })
			if r := hs.get("/obj"); r.code != 200 || r.body != body {
				t.Fatalf("fill: %d, %d bytes", r.code, len(r.body))
			}
			if r := hs.get("/obj"); r.code != 200 || r.body != body || !strings.Contains(r.status(), "hit") {
				t.Fatalf("second request: %d, %d bytes, %q", r.code, len(r.body), r.status())
			}
			e := rec.lastEntry()
			if e == nil {
				t.Fatal("no stored entry")
			}
			if len(e.Body) != len(body) || cap(e.Body) != len(body) {
				t.Fatalf("stored body: length %d, capacity %d; want both %d", len(e.Body), cap(e.Body), len(body))
			}
			if limit := int64(len(body)) + 4<<10; mem.Bytes() > limit {
				t.Errorf("the store accounts %d bytes for a %d-byte object", mem.Bytes(), len(body))
			}
			hs.expectHits(1)
		})
	}
}
