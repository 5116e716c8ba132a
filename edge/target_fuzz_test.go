package edge

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tern-cdn/tern/edge/store"
)

// FuzzUpstreamTarget feeds any request target, parsed as Go's HTTP/2 and
// HTTP/3 servers parse :path (url.ParseRequestURI), to the upstream
// request an edge builds for its shield, writes that request as net/http
// does on an HTTP/1.1 hop, and checks that its request line is valid
// (RFC 9112 §3.2: a target of RFC 3986 characters, no SP or CTL) and that
// the shield, reading it, computes the edge's cache key. The seed corpus
// (testdata/fuzz/FuzzUpstreamTarget) holds the hostile targets of issue 11
// and the encodings the cache key normalizes; explore with
// go test -run '^$' -fuzz FuzzUpstreamTarget -parallel 1 ./edge/
func FuzzUpstreamTarget(f *testing.F) {
	mem, err := store.NewMemory(1 << 20)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(mem.Close)
	origin, _ := url.Parse("http://origin.test/base")
	h, err := NewHandler(Config{
		Node:     "fuzz-edge",
		Sites:    []Site{{Name: "s", Hosts: []string{"www.cdn.test"}, Origin: origin}},
		Upstream: http.DefaultTransport,
		Shielded: true,
		Store:    mem,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(h.Close)
	site := h.sites["www.cdn.test"]

	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return // refused before any upstream request
		}
		r := &http.Request{Method: "GET", URL: u, Host: "www.cdn.test", Header: http.Header{},
			RemoteAddr: "192.0.2.1:1234", Proto: "HTTP/2.0", ProtoMajor: 2}
		var wire bytes.Buffer
		if err := h.upstreamRequest(context.Background(), r, site, kindFill).Write(&wire); err != nil {
			t.Fatalf("%q: writing the upstream request: %v", target, err)
		}
		line, _, _ := strings.Cut(wire.String(), "\r\n")
		parts := strings.Split(line, " ")
		if len(parts) != 3 || parts[0] != "GET" || parts[2] != "HTTP/1.1" {
			t.Fatalf("%q: request line %q", target, line)
		}
		if bad := invalidTargetByte(parts[1]); bad >= 0 {
			t.Fatalf("%q: request target %q has an invalid byte at %d", target, parts[1], bad)
		}
		got, err := http.ReadRequest(bufio.NewReader(&wire))
		if err != nil {
			t.Fatalf("%q: the shield cannot read %q: %v", target, line, err)
		}
		if a, b := cacheKey("http", "www.cdn.test", u), cacheKey("http", "www.cdn.test", got.URL); a != b {
			t.Fatalf("%q: edge key %q, shield key %q", target, a, b)
		}
	})
}

// invalidTargetByte is the index of the first byte of an origin-form
// target that RFC 3986 does not allow (bar '[' and ']', which net/url and
// browsers leave raw), or -1.
func invalidTargetByte(t string) int {
	if !strings.HasPrefix(t, "/") {
		return 0
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case isUnreserved(c), strings.IndexByte("!$&'()*+,;=:@/?[]", c) >= 0:
		case c == '%' && i+2 < len(t) && isHex(t[i+1]) && isHex(t[i+2]):
		default:
			return i
		}
	}
	return -1
}
