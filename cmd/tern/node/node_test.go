package node

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/edge/store"
)

// TestAdminParts: the node's one admin server is ready only when every
// part is, its /status is one object holding every part's fields, and a
// part's own routes are served beside the common ones.
func TestAdminParts(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "tern_test_total", Help: "a test counter"}))
	cacheReady := errors.New("starting")
	parts := []adminPart{
		{
			ready:  func() error { return cacheReady },
			status: func() map[string]any { return map[string]any{"upstreams": []string{"u1"}} },
		},
		{
			ready:  func() error { return nil },
			status: func() map[string]any { return map[string]any{"dns": "127.0.0.1:53"} },
			routes: func(mux *http.ServeMux) {
				mux.HandleFunc("POST /drain", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "drained\n") })
			},
		},
	}
	srv := httptest.NewServer(adminHandler(reg, parts))
	defer srv.Close()
	get := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("GET", "/readyz"); code != http.StatusServiceUnavailable || body != "not ready: starting\n" {
		t.Errorf("/readyz with a part starting: %d %q, want 503 not ready: starting", code, body)
	}
	cacheReady = nil
	if code, body := get("GET", "/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz with every part ready: %d %q", code, body)
	}
	if code, body := get("GET", "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := get("GET", "/status")
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); code != http.StatusOK || err != nil || len(doc) != 2 || doc["dns"] != "127.0.0.1:53" || doc["upstreams"] == nil {
		t.Errorf("/status: %d %s (%v), want one object with both parts' fields", code, body, err)
	}
	if code, body := get("POST", "/drain"); code != http.StatusOK || body != "drained\n" {
		t.Errorf("a part's route: %d %q", code, body)
	}
	if code, body := get("GET", "/metrics"); code != http.StatusOK || !strings.Contains(body, "tern_test_total 0") {
		t.Errorf("/metrics: %d, want the registry's counter in %q", code, body)
	}
}

func TestMemoryLimit(t *testing.T) {
	top, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	var origin, edge1 configs.NodeRef
	caches := 0
	for _, ref := range top.Nodes() {
		switch ref.Role {
		case configs.RoleOrigin:
			origin = ref
		case configs.RoleEdge, configs.RoleShield:
			caches++
			edge1 = ref
		}
	}
	// Each cache has a disk tier too, whose index cache is counted.
	mem := top.Cache.Memory.Int64() + store.DefaultIndexCacheBytes
	if top.Cache.Disk <= 0 {
		t.Fatal("the demo's caches have no disk tier")
	}
	for _, tt := range []struct {
		name string
		refs []configs.NodeRef
		want int64
	}{
		{"origin only", []configs.NodeRef{origin}, 0},
		{"one edge", []configs.NodeRef{edge1}, mem + MemoryHeadroom},
		{"whole demo", top.Nodes(), int64(caches)*mem + MemoryHeadroom},
	} {
		if got := MemoryLimit(top, tt.refs); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
