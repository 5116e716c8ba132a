package edge_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/internal/testkit"
)

// TestAdminHostChecked: an edge's admin listener answers only requests
// whose Host is its own, so a web page cannot read it by DNS rebinding,
// and it refuses every mutating request when no admin token is configured
// (issue 11 item 10).
func TestAdminHostChecked(t *testing.T) {
	top, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	top.Purge = configs.Purge{} // no purge bus: these nodes run without one
	top.Admin = configs.Admin{} // no token
	ref := testkit.OnLoopback(t, top, "shield-1", "127.0.0.1")
	var logs strings.Builder // written by node.New only, before Run
	n, err := node.New(top, ref, node.Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"no admin token is configured`) {
		t.Errorf("start-up log does not warn that no admin token is configured:\n%s", logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	_, port, _ := net.SplitHostPort(n.Admin)
	do := func(method, path, host string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+n.Admin+path, nil)
		req.Host = host
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/status", "/metrics", "/healthz"} {
		if code, body := do("GET", path, "rebind.example:"+port, "Sec-Fetch-Site", "same-origin"); code != http.StatusMisdirectedRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s with a rebinding Host: %d %.80s, want 421 JSON", path, code, body)
		}
		for _, host := range []string{n.Admin, "localhost:" + port} {
			if code, body := do("GET", path, host); code != http.StatusOK {
				t.Errorf("GET %s with Host %s: %d %.80s, want 200", path, host, code, body)
			}
		}
	}
	if code, body := do("POST", "/status", n.Admin); code != http.StatusForbidden || !strings.Contains(body, "no admin token is configured") {
		t.Errorf("POST without a configured token: %d %s, want 403", code, body)
	}
}
