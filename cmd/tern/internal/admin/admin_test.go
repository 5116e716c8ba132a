package admin_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tern-cdn/tern/cmd/tern/internal/admin"
	"github.com/tern-cdn/tern/configs"
)

// startGuarded serves a handler counting the requests it gets behind g on
// 127.0.0.1:0.
func startGuarded(t *testing.T, g admin.Guard) (url string, served *int) {
	t.Helper()
	served = new(int)
	var mu sync.Mutex
	srv := httptest.NewServer(g.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		*served++
		mu.Unlock()
		io.WriteString(w, "done\n")
	})))
	t.Cleanup(srv.Close)
	return srv.URL, served
}

func do(t *testing.T, method, url, host string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGuard(t *testing.T) {
	url, served := startGuarded(t, admin.Guard{Token: "tok", Hosts: []string{"metrics.example", "*.ops.example", "[2001:db8::1]"}})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	tests := []struct {
		name, method, host string
		header             []string
		want               int
	}{
		{"own address", "GET", "", nil, 200},
		{"localhost", "GET", "localhost:" + port, nil, 200},
		{"no port", "GET", "127.0.0.1", nil, 200},
		{"all interfaces", "GET", "0.0.0.0:" + port, nil, 200},
		{"empty name", "GET", ":" + port, nil, 200},
		{"listed name", "GET", "Metrics.Example.:" + port, nil, 200},
		{"listed wildcard", "GET", "edge-1.ops.example:" + port, nil, 200},
		{"listed IPv6", "GET", "[2001:db8::1]:" + port, nil, 200},
		{"rebinding name", "GET", "rebind.example:" + port, nil, 421},
		{"wildcard apex", "GET", "ops.example:" + port, nil, 421},
		{"another IP", "GET", "192.0.2.1:" + port, nil, 421},
		{"rebinding drain", "POST", "rebind.example:" + port,
			[]string{"Origin", "http://rebind.example:" + port, "Sec-Fetch-Site", "same-origin", "Authorization", "Bearer tok"}, 421},
		{"post without token", "POST", "", nil, 401},
		{"post wrong token", "POST", "", []string{"Authorization", "Bearer nope"}, 401},
		{"post token", "POST", "", []string{"Authorization", "Bearer tok"}, 200},
		{"cross-origin post", "POST", "", []string{"Authorization", "Bearer tok", "Sec-Fetch-Site", "cross-site"}, 403},
	}
	want200 := 0
	for _, tt := range tests {
		code, body := do(t, tt.method, url+"/x", tt.host, tt.header...)
		if code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, code, body, tt.want)
		}
		if code != 200 && !strings.HasPrefix(body, `{"error":`) {
			t.Errorf("%s: body %q is not a JSON error", tt.name, body)
		}
		if tt.want == 200 {
			want200++
		}
	}
	if *served != want200 {
		t.Errorf("handler served %d requests, want %d", *served, want200)
	}
}

func TestGuardWithoutToken(t *testing.T) {
	url, served := startGuarded(t, admin.Guard{})
	if code, body := do(t, "POST", url+"/drain", "", "Authorization", "Bearer anything"); code != 403 || !strings.Contains(body, "no admin token is configured") {
		t.Errorf("POST without a configured token: %d %s", code, body)
	}
	if code, _ := do(t, "GET", url+"/status", ""); code != 200 || *served != 1 {
		t.Errorf("GET without a configured token: %d, served %d", code, *served)
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	if tok, err := admin.LoadToken(configs.Admin{}, dir); tok != "" || err != nil {
		t.Errorf("none: %q %v", tok, err)
	}
	t.Setenv("TERN_TEST_TOKEN", " from-env\n")
	if tok, err := admin.LoadToken(configs.Admin{TokenEnv: "TERN_TEST_TOKEN"}, dir); tok != "from-env" || err != nil {
		t.Errorf("env: %q %v", tok, err)
	}
	if _, err := admin.LoadToken(configs.Admin{TokenEnv: "TERN_TEST_UNSET_TOKEN"}, dir); err == nil {
		t.Error("unset env: no error")
	}
	if _, err := admin.LoadToken(configs.Admin{TokenFile: filepath.Join(dir, "absent")}, dir); err == nil {
		t.Error("missing absolute file: no error")
	}

	// A relative file is created once, 0600, and shared by nodes starting
	// at once.
	a := configs.Admin{TokenFile: "admin-token"}
	tokens := make([]string, 8)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Go(func() {
			tok, err := admin.LoadToken(a, dir)
			if err != nil {
				t.Error(err)
			}
			tokens[i] = tok
		})
	}
	wg.Wait()
	if len(tokens[0]) != 64 {
		t.Fatalf("token %q, want 64 hex digits", tokens[0])
	}
	for _, tok := range tokens {
		if tok != tokens[0] {
			t.Fatalf("nodes read different tokens: %q", tokens)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "admin-token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only admin-token", len(entries))
	}
	if tok, err := admin.LoadToken(configs.Admin{TokenFile: filepath.Join(dir, "admin-token")}, ""); tok != tokens[0] || err != nil {
		t.Errorf("absolute file: %q %v", tok, err)
	}
	if _, err := admin.LoadToken(a, ""); err == nil {
		t.Error("relative file without a data dir: no error")
	}
}

// TestSecretFile: a relative secret file is made once in the data
// directory (mode 0600) and then read back by every caller; an absolute
// one must exist and hold something.
func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	a, err := admin.SecretFile("fleet.secret_file", "fleet-secret", dir)
	if err != nil || len(a) != 64 {
		t.Fatalf("first read: %q, %v; want a new 64-hex-digit secret", a, err)
	}
	b, err := admin.SecretFile("fleet.secret_file", "fleet-secret", dir)
	if err != nil || b != a {
		t.Fatalf("second read: %q, %v; want the same secret %q", b, err, a)
	}
	if fi, err := os.Stat(filepath.Join(dir, "fleet-secret")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file: %v, %v; want mode 0600", fi, err)
	}
	if _, err := admin.SecretFile("fleet.secret_file", filepath.Join(dir, "absent"), dir); err == nil || !strings.Contains(err.Error(), "fleet.secret_file") {
		t.Errorf("absent absolute file: %v; want an error naming the field", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	if _, err := admin.SecretFile("fleet.secret_file", empty, dir); err == nil {
		t.Error("an empty secret file was accepted")
	}
}
