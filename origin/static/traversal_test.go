package static

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTraversal sends hostile request targets as raw bytes: none may reach a
// file outside the root nor a hidden file.
func TestTraversal(t *testing.T) {
	root := fixture(t) // <tmp>/secret.txt sits next to the root
	o := startOrigin(t, Config{Root: root}, nil)
	targets := []string{
		"/../secret.txt",
		"/..",
		"/../",
		"/../go.mod",
		"/../../../../../../etc/passwd",
		"/img/../../secret.txt",
		"/./../secret.txt",
		"//../secret.txt",
		"/%2e%2e/secret.txt",
		"/%2E%2E/secret.txt",
		"/.%2e/secret.txt",
		"/img/%2e%2e/%2e%2e/secret.txt",
		"/..%2fsecret.txt",
		"/..%2Fsecret.txt",
		"/img%2f..%2f..%2fsecret.txt",
		"/%2fetc%2fpasswd",
		"/..\\secret.txt",
		"/..%5csecret.txt",
		"/%5c..%5csecret.txt",
		"/%00",
		"/notes.txt%00.png",
		"http://origin.test/../secret.txt",
		"/.env",
		"/.git/config",
		"/img/../.env",
		"/%2eenv",
	}
	for _, target := range targets {
		res, body, _ := o.raw(t, "GET", target)
		if res.StatusCode != 400 && res.StatusCode != 404 {
			t.Errorf("GET %s: status %d, want 400 or 404", target, res.StatusCode)
		}
		if strings.Contains(string(body), "TOPSECRET") || strings.Contains(string(body), "root:") {
			t.Errorf("GET %s: leaked %q", target, body)
		}
	}

	// .well-known is the one dot folder that is served.
	if res, body, _ := o.raw(t, "GET", "/.well-known/security.txt"); res.StatusCode != 200 || string(body) != fixtureFiles[".well-known/security.txt"] {
		t.Errorf("GET /.well-known/security.txt: status %d body %q", res.StatusCode, body)
	}
}

// TestTraversalStatus pins the status of each kind of hostile path.
func TestTraversalStatus(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t)}, nil)
	for target, want := range map[string]int{
		"/../secret.txt":     400,
		"/%2e%2e/secret.txt": 400,
		"/..%2fsecret.txt":   400,
		"/img%2fa.png":       400, // an encoded slash is refused even inside the root
		"/..%5csecret.txt":   400,
		"/.env":              404,
	} {
		if res, _, _ := o.raw(t, "GET", target); res.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", target, res.StatusCode, want)
		}
	}
}

func TestSymlinks(t *testing.T) {
	root := fixture(t)
	links := map[string]string{
		"escape.txt":  filepath.Join("..", "secret.txt"),
		"escape-dir":  "..",
		"absolute":    filepath.Join(filepath.Dir(root), "secret.txt"),
		"alias.txt":   "notes.txt",
		"alias-dir":   "docs",
		"loop":        "loop",
		"dangling.js": "nowhere.js",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Skipf("symlinks not supported: %v", err)
		}
	}
	o := startOrigin(t, Config{Root: root}, nil)
	for target, want := range map[string]int{
		"/escape.txt":            404,
		"/escape-dir/secret.txt": 404,
		"/escape-dir/":           404,
		"/absolute":              404,
		"/loop":                  404,
		"/dangling.js":           404,
		"/alias.txt":             200, // links inside the root are fine
		"/alias-dir/":            200,
	} {
		res, body, _ := o.raw(t, "GET", target)
		if res.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", target, res.StatusCode, want)
		}
		if strings.Contains(string(body), "TOPSECRET") {
			t.Errorf("GET %s: leaked %q", target, body)
		}
	}
}
