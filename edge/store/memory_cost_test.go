package store

import (
	"bufio"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// originResponse is a response as a Go origin sends a small asset.
const originResponse = "HTTP/1.1 200 OK\r\n" +
	"Accept-Ranges: bytes\r\n" +
	"Cache-Control: max-age=3600\r\n" +
	"Content-Length: 100\r\n" +
	"Content-Type: text/css; charset=utf-8\r\n" +
	"Date: Thu, 26 Nov 2026 12:00:00 GMT\r\n" +
	"Etag: \"5f2b-64\"\r\n" +
	"Last-Modified: Wed, 25 Nov 2026 12:00:00 GMT\r\n" +
	"\r\n"

// parsedEntry is an entry whose header was parsed by net/http, so its map
// and strings are allocated the way an upstream response's are.
func parsedEntry(t *testing.T, body int) *httpcache.Entry {
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(originResponse)), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	now := time.Now()
	return httpcache.NewEntry(200, resp.Header, make([]byte, body), httpcache.Decision{Store: true, Lifetime: time.Hour}, now, now)
}

func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestMemoryCostCoversHeap stores many small entries and checks that what
// they make the Go heap grow by, ristretto's bookkeeping included, is no
// more than their Cost: the memory tier's budget bounds its real memory.
// It is also how EntryOverhead was measured (see its comment): the log
// line gives the bytes per entry beyond the body and header bytes.
func TestMemoryCostCoversHeap(t *testing.T) {
	const n, body = 20_000, 100
	m := newMemory(t, 1<<30)
	before := liveHeap()
	var cost int64
	for i := range n {
		e := parsedEntry(t, body)
		if !m.Set(fmt.Sprintf("https://www.cdn.test/app.css?v=%d", i), e, time.Hour) {
			t.Fatalf("Set %d refused", i)
		}
		cost += e.Cost()
	}
	grown := liveHeap() - before
	runtime.KeepAlive(m)
	if m.Objects() != n {
		t.Fatalf("Objects() = %d, want %d", m.Objects(), n)
	}
	perEntry := float64(grown) / n
	counted := float64(cost)/n - httpcache.EntryOverhead
	t.Logf("%d entries: heap grew by %d bytes, %.0f per entry; Cost %.0f per entry, of which %.0f body and fields: %.0f bytes of overhead measured, EntryOverhead is %d",
		n, grown, perEntry, float64(cost)/n, counted, perEntry-counted, httpcache.EntryOverhead)
	if grown > cost {
		t.Errorf("the heap grew by %d bytes, more than the entries' Cost of %d", grown, cost)
	}
}
