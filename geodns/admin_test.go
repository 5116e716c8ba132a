package geodns_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// fleetHealth is newFleet's health section, given when the extra settings
// end with a top-level section (newFleet would append it to that).
const fleetHealth = "\n  health: {interval: 50ms, timeout: 500ms, rise: 2, fall: 2}"

// adminDo sends method url with Host host ("" for the URL's) and the
// headers (name, value pairs); it returns the status and the body.
func adminDo(t *testing.T, method, url, host string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode >= 400 && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: %d with content type %q, want JSON", method, url, resp.StatusCode, ct)
	}
	return resp.StatusCode, string(b)
}

// TestDrainWithoutTokenRefused: with no admin token configured, whoever
// reaches the admin port must not be able to drain (issue 11 item 10).
func TestDrainWithoutTokenRefused(t *testing.T) {
	f := startFleet(t, "", "")
	for _, path := range []string{"/drain?datacenter=us-east", "/drain?datacenter=eu-west", "/undrain?datacenter=us-east"} {
		code, body := adminDo(t, "POST", "http://"+f.admin+path, "")
		if code != http.StatusForbidden || !strings.Contains(body, "no admin token is configured") {
			t.Errorf("POST %s without a configured token: %d %s, want 403 saying no token is configured", path, code, body)
		}
	}
	if s := getJSON(t, "http://"+f.admin+"/status"); strings.Contains(s, `"drained": true`) {
		t.Errorf("drained without a token: %s", s)
	}
}

// TestAdminRebindingRefused is the DNS-rebinding-shaped request of issue
// 11 item 10: a page at rebind.example, whose name now resolves to the
// admin address, posts "same-origin". The Host is not the listener's.
func TestAdminRebindingRefused(t *testing.T) {
	f := startFleet(t, "", "")
	_, port, _ := net.SplitHostPort(f.admin)
	rebind := "rebind.example:" + port
	code, body := adminDo(t, "POST", "http://"+f.admin+"/drain?datacenter=us-east", rebind,
		"Origin", "http://"+rebind, "Sec-Fetch-Site", "same-origin")
	if code != http.StatusMisdirectedRequest {
		t.Errorf("rebinding drain: %d %s, want 421", code, body)
	}
	if code, body := adminDo(t, "GET", "http://"+f.admin+"/status", rebind, "Sec-Fetch-Site", "same-origin"); code != http.StatusMisdirectedRequest {
		t.Errorf("rebinding GET /status: %d %s, want 421", code, body)
	}
	if s := getJSON(t, "http://"+f.admin+"/status"); strings.Contains(s, `"drained": true`) {
		t.Errorf("drained by a rebinding request: %s", s)
	}
	for _, host := range []string{f.admin, "localhost:" + port, "LOCALHOST.:" + port} {
		if code, _ := adminDo(t, "GET", "http://"+f.admin+"/status", host); code != http.StatusOK {
			t.Errorf("GET /status with Host %s: %d, want 200", host, code)
		}
	}
}

// TestAdminTokenAndHosts: admin.token_env guards the drains of the dns
// node; admin.hosts adds names to the Host check.
func TestAdminTokenAndHosts(t *testing.T) {
	t.Setenv("TERN_TEST_ADMIN_TOKEN", "s3cret")
	f := startFleet(t, "", fleetHealth+`
admin: {token_env: TERN_TEST_ADMIN_TOKEN, hosts: [dns-admin.example, "*.ops.example"]}`)
	_, port, _ := net.SplitHostPort(f.admin)
	url := "http://" + f.admin + "/drain?datacenter=us-east"
	if code, body := adminDo(t, "POST", url, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d %s, want 401", code, body)
	}
	if code, body := adminDo(t, "POST", url, "", "Authorization", "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d %s, want 401", code, body)
	}
	if code, body := adminDo(t, "POST", url, "", "Authorization", "Bearer s3cret"); code != http.StatusOK {
		t.Errorf("right token: %d %s, want 200", code, body)
	}
	// A page on another site cannot use an operator's token either.
	if code, body := adminDo(t, "POST", url, "", "Authorization", "Bearer s3cret",
		"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("cross-origin drain: %d %s, want 403", code, body)
	}
	for host, want := range map[string]int{
		"dns-admin.example:" + port: http.StatusOK, "a.ops.example:" + port: http.StatusOK,
		"ops.example:" + port: http.StatusMisdirectedRequest, "dns-admin.example.evil:" + port: http.StatusMisdirectedRequest,
	} {
		if code, body := adminDo(t, "GET", "http://"+f.admin+"/status", host); code != want {
			t.Errorf("GET /status with Host %s: %d %s, want %d", host, code, body, want)
		}
	}
}
