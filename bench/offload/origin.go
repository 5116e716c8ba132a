package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// objPrefix is the path of every object: /obj/N.
const objPrefix = "/obj/"

// maxObject bounds N, so a stray path cannot make the origin allocate much.
const maxObject = 10_000_000

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxKiB is the largest body in KiB (the -max-kib flag).
var maxKiB = 32

// objectSize is the body length of object n: 1 to maxKiB KiB (spread over
// n by a multiplicative hash, so size does not follow popularity) plus
// n mod 509 bytes, so lengths are not all multiples of 1 KiB.
func objectSize(n uint64) int {
	kib := 1 + int((n*0x9E3779B97F4A7C15)>>40)%maxKiB
	return kib<<10 + int(n%509)
}

// objectBody is object n's body: ChaCha8 bytes seeded by n.
func objectBody(n uint64) []byte {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], n)
	copy(seed[8:], "tern-bench-offload")
	b := make([]byte, objectSize(n))
	rand.NewChaCha8(seed).Read(b)
	return b
}

// expectation is what a client must receive for an object.
type expectation struct {
	size int
	crc  uint32
}

var expected sync.Map // uint64 → expectation

// expect returns object n's length and CRC-32C, computed once.
func expect(n uint64) expectation {
	if v, ok := expected.Load(n); ok {
		return v.(expectation)
	}
	b := objectBody(n)
	e := expectation{size: len(b), crc: crc32.Checksum(b, castagnoli)}
	expected.Store(n, e)
	return e
}

// testOrigin is the loopback origin: GET /obj/N answers object N with
// Cache-Control: public, max-age=3600 and a strong ETag (Range requests
// work: edges fetch in slices). It counts the requests for every path. A
// path can be made slow: its response headers wait for a given delay (or
// until the request is cancelled).
type testOrigin struct {
	srv   *http.Server
	ln    net.Listener
	Addr  string
	total atomic.Int64 // requests for /obj/ paths

	mu     sync.Mutex
	counts map[string]int
	slow   map[string]time.Duration
}

func startOrigin() (*testOrigin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := &testOrigin{ln: ln, Addr: ln.Addr().String(), counts: map[string]int{}, slow: map[string]time.Duration{}}
	o.srv = &http.Server{Handler: o, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	go func() {
		if err := o.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("origin: serve:", err)
		}
	}()
	return o, nil
}

func (o *testOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if !strings.HasPrefix(p, objPrefix) {
		http.NotFound(w, r)
		return
	}
	n, err := strconv.ParseUint(p[len(objPrefix):], 10, 64)
	if err != nil || n > maxObject {
		http.NotFound(w, r)
		return
	}
	o.total.Add(1)
	o.mu.Lock()
	o.counts[p]++
	delay := o.slow[p]
	o.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", fmt.Sprintf(`"o%d"`, n))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(objectBody(n)))
}

// Slow makes path's response headers wait for d.
func (o *testOrigin) Slow(path string, d time.Duration) {
	o.mu.Lock()
	o.slow[path] = d
	o.mu.Unlock()
}

// Count is how many requests path got.
func (o *testOrigin) Count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}

// CountsOf returns the request count of each object in ns.
func (o *testOrigin) CountsOf(ns map[uint64]bool) map[uint64]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[uint64]int, len(ns))
	for n := range ns {
		out[n] = o.counts[objPrefix+strconv.FormatUint(n, 10)]
	}
	return out
}

// Stop closes the listener and every connection: the origin is down.
func (o *testOrigin) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := o.srv.Shutdown(ctx); err != nil {
		o.srv.Close()
	}
}
