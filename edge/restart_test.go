package edge_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/store"
	"github.com/tern-cdn/tern/internal/testkit"
)

// versionedOrigin serves body(version) under ETag "v<version>" with
// max-age=60 (max-age=0 for the query "stale"), answers If-None-Match with a 304 and honours Range, so it can
// feed sliced fills.
type versionedOrigin struct{ version atomic.Int64 }

func (o *versionedOrigin) body(path string) string {
	size := 700
	if strings.Contains(path, "/big") {
		size = 150_000
	}
	return string(randomBody(size, uint64(o.version.Load())*1000+uint64(len(path))))
}

func (o *versionedOrigin) serve(w http.ResponseWriter, r *http.Request) {
	etag := `"v` + strconv.FormatInt(o.version.Load(), 10) + `"`
	w.Header().Set("Cache-Control", "max-age=60")
	if r.URL.RawQuery == "stale" {
		w.Header().Set("Cache-Control", "max-age=0")
	}
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(o.body(r.URL.Path)))
}

// diskStore opens a memory tier in front of a disk tier in dir; close may
// be called more than once (a restart closes it before the test ends).
func diskStore(t *testing.T, dir string) (*store.Tiered, func()) {
	t.Helper()
	mem, err := store.NewMemory(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := store.OpenDisk(store.DiskConfig{Dir: dir, MaxBytes: 64 << 20, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	tiers := store.NewTiered(mem, disk, nil)
	var once sync.Once
	closeFn := func() { once.Do(func() { tiers.Close() }) }
	t.Cleanup(closeFn)
	return tiers, closeFn
}

// restartableEdge is a harness whose store lives in a folder, so the node
// can be "restarted": a new handler and store on the same folder, with an
// empty memory tier.
type restartableEdge struct {
	t         *testing.T
	dir       string
	fn        http.HandlerFunc
	opts      []func(*edge.Config)
	hs        *harness
	closeCurr func()
}

func newRestartableEdge(t *testing.T, fn http.HandlerFunc, opts ...func(*edge.Config)) *restartableEdge {
	re := &restartableEdge{t: t, dir: t.TempDir(), fn: fn, opts: opts}
	re.start()
	return re
}

func (re *restartableEdge) start() {
	tiers, closeStore := diskStore(re.t, re.dir)
	opts := append([]func(*edge.Config){func(c *edge.Config) { c.Store = tiers }}, re.opts...)
	re.hs = newHarness(re.t, re.fn, opts...)
	hs := re.hs
	re.closeCurr = func() {
		hs.edge.Close()
		hs.h.Close()
		closeStore()
	}
}

// restart stops the handler and its store and starts both again on the
// same folder.
func (re *restartableEdge) restart() {
	re.closeCurr()
	re.start()
}

// storeKinds are the kinds of stored entries a restart must keep usable.
var storeKinds = []struct {
	name string
	path string
	opts []func(*edge.Config)
}{
	{name: "memory+disk", path: "/small"},
	{name: "disk-only", path: "/small", opts: []func(*edge.Config){func(c *edge.Config) { c.Sites[0].Tier = httpcache.TierDisk }}},
	{name: "sliced", path: "/big", opts: []func(*edge.Config){func(c *edge.Config) { c.SliceSize = 64 << 10 }}},
}

// TestRevalidateAfterRestart stores an entry, restarts the node on its
// cache and revalidates the entry: forced by the client (no-cache) and
// because it went stale, answered 304, then 200 with a new body. Every
// answer is the exact body, never a 5xx; the first revalidation after a
// restart used to read a body file the revalidation itself had replaced.
func TestRevalidateAfterRestart(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			o := &versionedOrigin{}
			re := newRestartableEdge(t, o.serve, kind.opts...)
			want := o.body(kind.path)
			if r := re.hs.get(kind.path); r.code != 200 || r.body != want {
				t.Fatalf("first fetch: %d, %d bytes (%s)", r.code, len(r.body), r.status())
			}
			check := func(step string, r result, want, status string) {
				t.Helper()
				// A sliced body reaches the client before its last slice is
				// written to disk: until then a hit may still fetch it.
				for i := 0; status == "hit" && strings.Contains(r.status(), "fwd=partial") && r.body == want && i < 100; i++ {
					time.Sleep(20 * time.Millisecond)
					r = re.hs.get(kind.path)
				}
				if r.code != 200 || r.body != want || !strings.Contains(r.status(), status) {
					t.Fatalf("%s: %d, %d bytes, body exact %v (%s)", step, r.code, len(r.body), r.body == want, r.status())
				}
			}

			re.restart()
			check("forced 304 after restart", re.hs.get(kind.path, "Cache-Control", "no-cache"), want, "fwd-status=304")
			check("hit after the 304", re.hs.get(kind.path), want, "hit")
			re.restart()
			check("hit after a second restart", re.hs.get(kind.path), want, "hit")
			re.hs.clock.Advance(2 * time.Minute)
			check("stale 304 after restart", re.hs.get(kind.path), want, "fwd-status=304")
			check("hit after the stale 304", re.hs.get(kind.path), want, "hit")

			re.restart()
			o.version.Add(1)
			want = o.body(kind.path)
			check("forced 200 after restart", re.hs.get(kind.path, "Cache-Control", "no-cache"), want, "fwd=request; fwd-status=20")
			check("hit after the 200", re.hs.get(kind.path), want, "hit")
			re.restart()
			re.hs.clock.Advance(2 * time.Minute)
			o.version.Add(1)
			want = o.body(kind.path)
			check("stale 200 after restart", re.hs.get(kind.path), want, "fwd=stale; fwd-status=20")
			re.restart()
			check("hit of the replacement after restart", re.hs.get(kind.path), want, "hit")
		})
	}
}

// TestRevalidateAfterRestartThroughShield runs the same through two
// tiers: the shield keeps its cache on disk and is restarted; the edge in
// front of it forces revalidations.
func TestRevalidateAfterRestartThroughShield(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			o := &versionedOrigin{}
			shield := newRestartableEdge(t, o.serve, append([]func(*edge.Config){func(c *edge.Config) { c.ClientFacing = false }}, kind.opts...)...)
			want := o.body(kind.path)
			e := edgeBehind(t, shield.hs, "edge")
			if resp, b := edgeGet(t, e, kind.path); resp.StatusCode != 200 || b != want {
				t.Fatalf("first fetch: %d", resp.StatusCode)
			}
			for round := range 4 {
				shield.restart()
				e = edgeBehind(t, shield.hs, fmt.Sprintf("edge-%d", round))
				if round >= 2 {
					o.version.Add(1)
					want = o.body(kind.path)
				}
				hdr := []string{"Cache-Control", "no-cache"}
				if round%2 == 1 {
					shield.hs.clock.Advance(2 * time.Minute)
					hdr = nil
				}
				resp, b := edgeGet(t, e, kind.path, hdr...)
				if resp.StatusCode != 200 || b != want {
					t.Fatalf("round %d: %d, %d bytes, body exact %v (%s)", round, resp.StatusCode, len(b), b == want, resp.Header.Get("Cache-Status"))
				}
			}
		})
	}
}

// TestRevalidatedBodyLostMeanwhile: the body file of an entry being
// revalidated disappears while the 304 is on its way (the sweep found it
// bad, an operator removed it). The client still gets the exact body, from
// a new fetch, not a 502.
func TestRevalidatedBodyLostMeanwhile(t *testing.T) {
	dir := t.TempDir()
	body := strings.Repeat("lost-body ", 500)
	hold, release := make(chan struct{}, 1), make(chan struct{})
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"l1"`)
		if r.Header.Get("If-None-Match") == `"l1"` {
			hold <- struct{}{}
			<-release
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, body)
	}, withDiskTier(t, dir, prometheus.NewRegistry()))
	hs.get("/x")
	got := make(chan result, 1)
	go func() { got <- hs.get("/x", "Cache-Control", "no-cache") }()
	<-hold
	for _, f := range bodyFiles(t, dir) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	r := <-got
	if r.code != 200 || r.body != body {
		t.Fatalf("after losing the body: %d, %d bytes (%s)", r.code, len(r.body), r.status())
	}
	hs.expectHits(3)
}

// restartTopology is persistTopology with disk-only paths (/d/*) and
// slices of 64 KiB.
func restartTopology(t *testing.T, origin string) string {
	t.Helper()
	tp := testkit.OneEdge(origin)
	tp.Sites[0].Extra = "cache:\n  tiers:\n    - {match: \"/d/*\", tier: disk}"
	tp.Extra = diskCache
	return tp.WriteFile(t)
}

// TestNodeRevalidatesAfterRestart runs a real node process, stores entries
// of every kind (memory+disk, disk-only, sliced; fresh and always stale),
// stops it (SIGTERM, then SIGKILL) and starts it again on its cache: every
// entry is revalidated, by the client's no-cache and by being stale, with
// 304s and then with 200s of a new version; every answer is 200 with the
// exact body.
func TestNodeRevalidatesAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	o := &versionedOrigin{}
	origin := httptest.NewServer(http.HandlerFunc(o.serve))
	defer origin.Close()
	top, data := restartTopology(t, origin.URL), t.TempDir()
	var paths []string
	for _, p := range []string{"/m/1", "/d/1", "/big/1", "/d/big/1"} {
		paths = append(paths, p, p+"?stale")
	}
	expect := func(c *childNode, step string, hdr ...string) {
		t.Helper()
		for _, p := range paths {
			code, b, h, err := c.get(p, hdr...)
			want := o.body(strings.TrimSuffix(p, "?stale"))
			if err != nil || code != 200 || string(b) != want {
				t.Fatalf("%s %s: %d %v, %d bytes, exact %v (%s)", step, p, code, err, len(b), string(b) == want, h.Get("Cache-Status"))
			}
		}
	}
	start := func() *childNode {
		c := startChild(t, top, data)
		t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
		return c
	}
	c := start()
	expect(c, "fill")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		c.cmd.Process.Signal(sig)
		c.cmd.Wait()
		c = start()
		expect(c, sig.String()+": 304, stale or hit")
		expect(c, sig.String()+": forced 304", "Cache-Control", "no-cache")
		expect(c, sig.String()+": hit after the 304s")
		c.cmd.Process.Signal(sig)
		c.cmd.Wait()
		o.version.Add(1)
		c = start()
		expect(c, sig.String()+": forced 200", "Cache-Control", "no-cache")
		expect(c, sig.String()+": hit or 304 after the 200s")
	}
}
