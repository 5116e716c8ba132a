package edge_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/internal/testkit"
)

// script is a text asset that compresses well.
var script = strings.Repeat("function add(a, b) { return a + b; } // tern\n", 400)

func compressing(c *edge.Config) {
	c.Sites[0].Compression = edge.Compression{Codings: []string{"br", "zstd", "gzip"}}
}

// asset serves body with type ct and the extra header pairs.
func asset(body, ct string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"v1"`)
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		io.WriteString(w, body)
	}
}

func decode(t *testing.T, coding string, b []byte) string {
	t.Helper()
	var r io.Reader
	switch coding {
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	case "":
		return string(b)
	default:
		t.Fatalf("unexpected coding %q", coding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", coding, err)
	}
	return string(out)
}

// getCoded asks for path with Accept-Encoding ae until the edge has made
// the variant (the first such request starts it and gets identity), and
// returns the response.
func getCoded(hs *harness, path, ae string, hdr ...string) result {
	hs.t.Helper()
	hs.get(path, append([]string{"Accept-Encoding", ae}, hdr...)...)
	hs.h.WaitSettled(hs.t)
	return hs.get(path, append([]string{"Accept-Encoding", ae}, hdr...)...)
}

func TestCompression(t *testing.T) {
	hs := newHarness(t, asset(script, "application/javascript"), compressing)
	plain := hs.get("/app.js")
	if plain.code != 200 || plain.body != script || plain.header.Get("Content-Encoding") != "" {
		t.Fatalf("identity: %d, %d bytes, coding %q", plain.code, len(plain.body), plain.header.Get("Content-Encoding"))
	}
	if plain.header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("identity Vary = %q, want Accept-Encoding", plain.header.Get("Vary"))
	}
	for _, tt := range []struct{ ae, want string }{
		{"br", "br"},
		{"gzip, deflate, br;q=0.5", "gzip"},
		{"zstd", "zstd"},
		{"gzip;q=0.2, zstd;q=0.9, br;q=0.9", "br"}, // a tie goes to the edge's order
		{"*", "br"},
		{"br;q=0, *;q=0.1", "zstd"},
		{"identity", ""},
		{"br;q=0, gzip;q=0, zstd;q=0", ""},
		{"deflate", ""},
		{"br;q=x", ""}, // a broken weight selects nothing
	} {
		r := getCoded(hs, "/app.js", tt.ae)
		if r.code != 200 || r.header.Get("Content-Encoding") != tt.want {
			t.Errorf("Accept-Encoding %q: %d, coding %q, want %q", tt.ae, r.code, r.header.Get("Content-Encoding"), tt.want)
			continue
		}
		if got := decode(t, tt.want, []byte(r.body)); got != script {
			t.Errorf("Accept-Encoding %q: decoded body differs (%d bytes)", tt.ae, len(got))
		}
		if r.header.Get("Content-Length") != fmt.Sprint(len(r.body)) {
			t.Errorf("Accept-Encoding %q: Content-Length %s for %d bytes", tt.ae, r.header.Get("Content-Length"), len(r.body))
		}
		if tt.want != "" {
			if len(r.body) >= len(script)/4 {
				t.Errorf("%s: %d bytes from %d", tt.want, len(r.body), len(script))
			}
			if et := r.header.Get("ETag"); et != `"v1-`+tt.want+`"` {
				t.Errorf("%s: ETag %s", tt.want, et)
			}
			if !isHit(r.status()) {
				t.Errorf("%s: Cache-Status %q, want a hit", tt.want, r.status())
			}
		}
		if r.header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary = %q", tt.ae, r.header.Get("Vary"))
		}
	}
	hs.expectHits(1) // every variant came from the one stored response

	// Ranges and validators are those of the variant.
	br := hs.get("/app.js", "Accept-Encoding", "br")
	part := hs.get("/app.js", "Accept-Encoding", "br", "Range", "bytes=0-9")
	if part.code != 206 || part.body != br.body[:10] || part.header.Get("Content-Encoding") != "br" {
		t.Errorf("range of the br variant: %d, %q", part.code, part.body)
	}
	if r := hs.get("/app.js", "Accept-Encoding", "br", "If-None-Match", `"v1-br"`); r.code != 304 {
		t.Errorf("If-None-Match of the variant: %d, want 304", r.code)
	}
	if r := hs.get("/app.js", "Accept-Encoding", "br", "If-None-Match", `"v1"`); r.code != 200 || r.header.Get("Content-Encoding") != "br" {
		t.Errorf("If-None-Match of the identity, asking br: %d %q, want 200 br", r.code, r.header.Get("Content-Encoding"))
	}
	// A client that forbids transformation gets what the origin sent.
	if r := hs.get("/app.js", "Accept-Encoding", "br", "Cache-Control", "no-transform"); r.header.Get("Content-Encoding") != "" || r.body != script {
		t.Errorf("request no-transform: coding %q", r.header.Get("Content-Encoding"))
	}
	if n := testkit.Value(t, hs.reg, "tern_edge_compressed_hits_total", "coding", "br"); n < 3 {
		t.Errorf("compressed br hits = %v", n)
	}
	if saved := testkit.Sum(t, hs.reg, "tern_edge_compression_saved_bytes_total"); saved <= 0 {
		t.Errorf("saved bytes = %v", saved)
	}
	hs.expectHits(1)
}

// TestCompressionLeavesAlone: what is not text, too small, already
// encoded or marked no-transform is served as the origin sent it, with
// no Vary added and nothing compressed.
func TestCompressionLeavesAlone(t *testing.T) {
	gz := func() string {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		io.WriteString(w, script)
		w.Close()
		return b.String()
	}()
	for _, tt := range []struct {
		name string
		h    http.HandlerFunc
		want string // the body served
	}{
		{"image", asset(script, "image/png"), script},
		{"small", asset("x = 1;", "application/javascript"), "x = 1;"},
		{"no-transform", asset(script, "text/css", "Cache-Control", "max-age=600, no-transform"), script},
		{"encoded by the origin", asset(gz, "text/css", "Content-Encoding", "gzip", "Vary", "Accept-Encoding"), gz},
		{"not stored", asset(script, "text/css", "Cache-Control", "no-store"), script},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, tt.h, compressing)
			r := getCoded(hs, "/a", "br")
			if r.body != tt.want || (r.header.Get("Content-Encoding") == "br") {
				t.Errorf("served %d bytes, coding %q", len(r.body), r.header.Get("Content-Encoding"))
			}
			if tt.name != "encoded by the origin" && r.header.Get("Vary") != "" {
				t.Errorf("Vary = %q", r.header.Get("Vary"))
			}
			if n := testkit.Sum(t, hs.reg, "tern_edge_compressions_total"); n != 0 {
				t.Errorf("%v compressions", n)
			}
		})
	}
}

// TestCompressionOff: without a Compression a site is served as before.
func TestCompressionOff(t *testing.T) {
	hs := newHarness(t, asset(script, "application/javascript"))
	r := getCoded(hs, "/app.js", "br")
	if r.header.Get("Content-Encoding") != "" || r.header.Get("Vary") != "" || r.body != script {
		t.Errorf("coding %q, Vary %q", r.header.Get("Content-Encoding"), r.header.Get("Vary"))
	}
}

// TestCompressionThroughShield: the client-facing edge compresses; the
// shield between it and the origin stores and sends identity, and the
// origin is asked once.
func TestCompressionThroughShield(t *testing.T) {
	shield := newHarness(t, asset(script, "text/css"), func(c *edge.Config) {
		c.ClientFacing = false
		compressing(c) // a shield never compresses, configured or not
	})
	srv := edgeBehind(t, shield, "edge-1", compressing)
	edgeGet(t, srv, "/site.css", "Accept-Encoding", "br") // stores, then starts br
	testkit.Eventually(t, 10*time.Second, "the edge serving br", func() bool {
		resp, body := edgeGet(t, srv, "/site.css", "Accept-Encoding", "br")
		return resp.Header.Get("Content-Encoding") == "br" && decode(t, "br", []byte(body)) == script
	})
	if r := shield.get("/site.css", "Accept-Encoding", "br"); r.header.Get("Content-Encoding") != "" || r.body != script {
		t.Errorf("the shield sent coding %q", r.header.Get("Content-Encoding"))
	}
	shield.expectHits(1)
}

// TestCompressionAfterPurge: a purged object's variants are never served
// for its new version.
func TestCompressionAfterPurge(t *testing.T) {
	var version atomic.Value
	version.Store("one")
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		asset(strings.Repeat(version.Load().(string)+" ", 1000), "text/html")(w, r)
	}, compressing)
	hs.get("/")
	if r := getCoded(hs, "/", "gzip"); decode(t, "gzip", []byte(r.body)) != strings.Repeat("one ", 1000) {
		t.Fatal("first version not served gzip")
	}
	version.Store("two")
	if _, err := hs.h.Invalidate(context.Background(), edge.Invalidation{Site: "test", URLs: []string{"/"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		r := hs.get("/", "Accept-Encoding", "gzip")
		if got := decode(t, r.header.Get("Content-Encoding"), []byte(r.body)); got != strings.Repeat("two ", 1000) {
			t.Fatalf("request %d after the purge: %q...", i, got[:8])
		}
		hs.h.WaitSettled(t)
	}
}

// TestCompressionSurvivesRestart: variants are stored in the disk tier
// too, so a restarted edge serves them without compressing again.
func TestCompressionSurvivesRestart(t *testing.T) {
	re := newRestartableEdge(t, asset(script, "application/json"), compressing)
	re.hs.get("/data.json")
	if r := getCoded(re.hs, "/data.json", "zstd"); r.header.Get("Content-Encoding") != "zstd" {
		t.Fatalf("before the restart: coding %q", r.header.Get("Content-Encoding"))
	}
	re.restart()
	r := re.hs.get("/data.json", "Accept-Encoding", "zstd")
	if r.header.Get("Content-Encoding") != "zstd" || decode(t, "zstd", []byte(r.body)) != script {
		t.Fatalf("after the restart: coding %q, %s", r.header.Get("Content-Encoding"), r.status())
	}
	if n := testkit.Sum(t, re.hs.reg, "tern_edge_compressions_total"); n != 0 {
		t.Errorf("%v compressions after the restart, want 0", n)
	}
	re.hs.expectHits(0)
}
