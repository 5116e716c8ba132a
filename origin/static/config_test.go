package static

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" means success
	}{
		{"ok", Config{Root: dir, Rules: testRules}, ""},
		{"ok relative", Config{Root: "."}, ""},
		{"empty root", Config{}, "empty root"},
		{"missing root", Config{Root: missing}, missing},
		{"root is a file", Config{Root: file}, file},
		{"empty pattern", Config{Root: dir, Rules: []Rule{{}}}, "empty match pattern"},
		{"bad pattern", Config{Root: dir, Rules: []Rule{{Match: "[a-"}}}, "bad match pattern"},
		{"relative path pattern", Config{Root: dir, Rules: []Rule{{Match: "img/*"}}}, "must start with '/'"},
		{"empty surrogate key", Config{Root: dir, Rules: []Rule{{Match: "*", SurrogateKeys: []string{""}}}}, "bad surrogate key"},
		{"surrogate key with space", Config{Root: dir, Rules: []Rule{{Match: "*", SurrogateKeys: []string{"a b"}}}}, "bad surrogate key"},
		{"bad header name", Config{Root: dir, Rules: []Rule{{Match: "*", Headers: map[string]string{"Bad Name": "x"}}}}, "bad header name"},
		{"header injection", Config{Root: dir, Rules: []Rule{{Match: "*", Headers: map[string]string{"X-A": "a\r\nSet-Cookie: x"}}}}, "control characters"},
		{"cache-control injection", Config{Root: dir, Rules: []Rule{{Match: "*", CacheControl: "max-age=1\nX: y"}}}, "control characters"},
		{"names the rule", Config{Root: dir, Rules: []Rule{{Match: "*.js"}, {Match: "["}}}, `rule 1 ("[")`},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, nil, nil)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("%s: no error, want one containing %q", tt.name, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("%s: error %q does not contain %q", tt.name, err, tt.wantErr)
		case err != nil && !strings.HasPrefix(err.Error(), "origin/static: "):
			t.Errorf("%s: error %q lacks the package prefix", tt.name, err)
		}
	}
}

func TestRuleMatch(t *testing.T) {
	tests := []struct {
		pattern, file string
		want          bool
	}{
		{"*.js", "/app.js", true},
		{"*.js", "/lib/deep/util.js", true},
		{"*.js", "/app.json", false},
		{"app.*", "/lib/app.css", true},
		{"/img/*", "/img/a.png", true},
		{"/img/*", "/img/sub/a.png", false}, // '*' does not cross '/'
		{"/img/*/*", "/img/sub/a.png", true},
		{"/img/*", "/static/img/a.png", false},
		{"/*.html", "/index.html", true},
		{"/*.html", "/docs/index.html", false},
		{"/video/demo.mp4", "/video/demo.mp4", true},
		{"/v?deo/[a-d]*.mp4", "/video/demo.mp4", true},
	}
	for _, tt := range tests {
		r, err := compileRule(Rule{Match: tt.pattern})
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if got := r.match(tt.file); got != tt.want {
			t.Errorf("%q matching %q = %v, want %v", tt.pattern, tt.file, got, tt.want)
		}
	}
}

// TestRuleHeaders checks which headers each file gets; "" means absent.
func TestRuleHeaders(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t), Rules: testRules}, nil)
	const (
		cc = "Cache-Control"
		sk = "Surrogate-Key"
		et = "ETag"
		lm = "Last-Modified"
	)
	tests := []struct {
		target string
		want   map[string]string
	}{
		{"/img/a.png", map[string]string{cc: "public, max-age=86400, immutable", sk: "img static", et: etagOf(fixtureFiles["img/a.png"]), lm: ""}},
		// First match wins: the specific rule comes before "/img/*".
		{"/img/special.png", map[string]string{cc: "no-store", sk: "special", et: "", lm: ""}},
		// "/img/*" does not match in subfolders and no other rule does: defaults.
		{"/img/sub/deep.png", map[string]string{cc: "", sk: "", et: etagOf("deep"), lm: lastMod}},
		{"/app.js", map[string]string{cc: "public, max-age=60", sk: "js", et: "", lm: lastMod,
			"X-Content-Type-Options": "nosniff", "X-Origin": "tern-static"}},
		{"/lib/util.js", map[string]string{cc: "public, max-age=60", sk: "js", et: "", lm: lastMod}},
		// A directory matches as its index.html.
		{"/", map[string]string{cc: "no-cache", sk: "html", et: etagOf(fixtureFiles["index.html"]), lm: lastMod}},
		{"/docs/", map[string]string{cc: "no-cache", sk: "html", et: etagOf(fixtureFiles["docs/index.html"]), lm: lastMod}},
		{"/notes.txt", map[string]string{cc: "", sk: "", et: etagOf("plain notes"), lm: lastMod, "X-Origin": ""}},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			res, _ := o.do(t, method, tt.target)
			if res.StatusCode != 200 {
				t.Errorf("%s %s: status %d", method, tt.target, res.StatusCode)
				continue
			}
			for name, want := range tt.want {
				vals := res.Header.Values(name)
				if want == "" && len(vals) != 0 {
					t.Errorf("%s %s: %s = %q, want absent", method, tt.target, name, vals)
				}
				if want != "" && (len(vals) != 1 || vals[0] != want) {
					t.Errorf("%s %s: %s = %q, want %q", method, tt.target, name, vals, want)
				}
			}
		}
	}
}

func TestHeadersOverride(t *testing.T) {
	rules := []Rule{{Match: "*.txt", CacheControl: "max-age=1", Headers: map[string]string{
		"cache-control": "max-age=2", "content-type": "text/markdown; charset=utf-8",
	}}}
	o := startOrigin(t, Config{Root: fixture(t), Rules: rules}, nil)
	res, _ := o.do(t, "GET", "/notes.txt")
	if got := res.Header.Get("Cache-Control"); got != "max-age=2" {
		t.Errorf("Cache-Control %q, want the Headers value max-age=2", got)
	}
	if got := res.Header.Get("Content-Type"); got != "text/markdown; charset=utf-8" {
		t.Errorf("Content-Type %q, want the Headers value", got)
	}
}
