package static

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tern-cdn/tern/internal/testkit"
)

func TestMetrics(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t)}, nil)
	var wantBytes int
	for _, req := range []struct {
		method, target string
		header         []string
	}{
		{"GET", "/notes.txt", nil},
		{"HEAD", "/notes.txt", nil},
		{"GET", "/data.bin", []string{"Range", "bytes=0-9"}},
		{"GET", "/notes.txt", []string{"If-None-Match", etagOf("plain notes")}},
		{"GET", "/missing", nil},
		{"POST", "/notes.txt", nil},
	} {
		_, body := o.do(t, req.method, req.target, req.header...)
		wantBytes += len(body)
	}
	o.wait(t, 6)

	for class, want := range map[string]float64{"2xx": 3, "3xx": 1, "4xx": 2, "5xx": 0} {
		if got := testkit.Value(t, o.reg, "tern_origin_requests_total", "code", class); got != want {
			t.Errorf("requests_total{code=%q} = %v, want %v", class, got, want)
		}
	}
	if got := testkit.Value(t, o.reg, "tern_origin_response_bytes_total"); got != float64(wantBytes) {
		t.Errorf("response_bytes_total = %v, want %d", got, wantBytes)
	}

	// Nothing is registered on the global registry.
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "tern_") {
			t.Errorf("global registry has %s", mf.GetName())
		}
	}
}

func TestMetricsSharedRegistry(t *testing.T) {
	root := fixture(t)
	reg := prometheus.NewRegistry()
	a, err := New(Config{Root: root}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Root: root}, reg, nil)
	if err != nil {
		t.Fatalf("second New on the same registry: %v", err)
	}
	a.metrics.observe(200, 10)
	b.metrics.observe(204, 5)
	if got := testkit.Value(t, reg, "tern_origin_requests_total", "code", "2xx"); got != 2 {
		t.Errorf("shared 2xx = %v, want 2", got)
	}
	if got := testkit.Value(t, reg, "tern_origin_response_bytes_total"); got != 15 {
		t.Errorf("shared bytes = %v, want 15", got)
	}
}

func TestETagCachedAndInvalidated(t *testing.T) {
	root := fixture(t)
	o := startOrigin(t, Config{Root: root}, nil)
	p := filepath.Join(root, "notes.txt")
	check := func(step, want string, hashed int64) {
		t.Helper()
		res, _ := o.do(t, "GET", "/notes.txt")
		if got := res.Header.Get("ETag"); got != want {
			t.Errorf("%s: ETag %s, want %s", step, got, want)
		}
		if got := o.s.etags.hashed.Load(); got != hashed {
			t.Errorf("%s: %d files hashed, want %d", step, got, hashed)
		}
	}
	check("first", etagOf("plain notes"), 1)
	check("cached", etagOf("plain notes"), 1)

	// New size, same mtime.
	writeTree(t, root, map[string]string{"notes.txt": "longer notes"})
	check("size changed", etagOf("longer notes"), 2)

	// Same size, new mtime.
	if err := os.WriteFile(p, []byte("LONGER NOTES"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := fixedTime.Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	check("mtime changed", etagOf("LONGER NOTES"), 3)
	check("cached again", etagOf("LONGER NOTES"), 3)
}

func TestConcurrentRequests(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t)}, nil)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 5 {
				// No t.Fatal off the test goroutine: plain client calls.
				res, err := o.Client().Get(o.URL + "/data.bin")
				if err != nil {
					t.Error(err)
					return
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.Header.Get("ETag") != etagOf(dataBin) || string(body) != dataBin {
					t.Errorf("concurrent GET: ETag %s, %d bytes, err %v", res.Header.Get("ETag"), len(body), err)
				}
			}
		})
	}
	wg.Wait()
	o.wait(t, 80)
	if got := testkit.Value(t, o.reg, "tern_origin_requests_total", "code", "2xx"); got != 80 {
		t.Errorf("2xx = %v, want 80", got)
	}
}
