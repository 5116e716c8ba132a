package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tern-cdn/tern/configs"
)

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	demo, err := os.ReadFile("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Break one field deep in the file: the listen port of the second edge.
	broken := strings.Replace(string(demo), "listen: 127.0.2.1:8080", "listen: 127.0.2.1:80a", 1)
	if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(broken[:strings.Index(broken, "127.0.2.1:80a")], "\n")
	noToken := filepath.Join(dir, "notoken.yaml")
	if err := os.WriteFile(noToken, []byte(strings.Replace(string(demo), "token_file: admin-token", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		args    []string
		out     string // substring of stdout
		errText string // substring of the error; "" means success
	}{
		{"version", []string{"version"}, "tern ", ""},
		{"check demo", []string{"config", "check", "../../configs/demo.yaml"}, "ok (1 sites, 8 nodes)", ""},
		{"check without token", []string{"config", "check", noToken}, "ok (1 sites, 8 nodes)", ""},
		{"check bad", []string{"config", "check", bad}, "", bad + ":" + strconv.Itoa(line) + ": datacenters[1].edges[0].listen:"},
		{"check missing", []string{"config", "check", filepath.Join(dir, "none.yaml")}, "", "none.yaml"},
		{"run without flags", []string{"run"}, "", "--config and --node"},
		{"run unknown node", []string{"run", "--config", "../../configs/demo.yaml", "--node", "nope"}, "", `no node named "nope"`},
		{"run bad config", []string{"run", "--config", bad, "--node", "us-east-1"}, "", "datacenters[1].edges[0].listen"},
		{"unknown command", []string{"frobnicate"}, "", "unknown command"},
		{"no command", nil, "", "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tt.args, &stdout, &stderr)
			if tt.errText == "" {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.errText) {
				t.Fatalf("error %v, want it to contain %q", err, tt.errText)
			}
			if !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.out)
			}
			// config check says loudly, on stderr, when no admin token is
			// configured, and only then.
			warned := strings.Contains(stderr.String(), "no admin token is configured")
			if want := tt.name == "check without token"; warned != want {
				t.Errorf("stderr %q: warned %v, want %v", stderr.String(), warned, want)
			}
		})
	}
}

// TestDemoAdminToken: the demo writes its admin token to the data
// directory, readable by its owner only, and tells how to use it.
func TestDemoAdminToken(t *testing.T) {
	top, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := demoAdminToken(top, dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "admin-token") {
		t.Errorf("token path %s", path)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(path)
	if tok := strings.TrimSpace(string(b)); len(tok) != 64 {
		t.Errorf("token %q, want 64 hex digits", tok)
	}
	var out bytes.Buffer
	printDemo(&out, running{}, path)
	if want := `-H "Authorization: Bearer $(cat ` + path + `)" 'http://127.0.0.1:9103/drain?datacenter=us-east'`; !strings.Contains(out.String(), want) {
		t.Errorf("demo text lacks %s:\n%s", want, out.String())
	}
}
