package static

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// dataBin is a 1000-byte file for range tests.
var dataBin = func() string {
	b := make([]byte, 1000)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return string(b)
}()

var fixtureFiles = map[string]string{
	"index.html":                "<h1>home</h1>",
	"app.js":                    "console.log('tern');",
	"lib/util.js":               "export const x = 1;",
	"style.css":                 "body { margin: 0 }",
	"img/a.png":                 "not really a png",
	"img/special.png":           "special",
	"img/sub/deep.png":          "deep",
	"docs/index.html":           "<h1>docs</h1>",
	"empty/readme.txt":          "no index here",
	"notes.txt":                 "plain notes",
	"data.bin":                  dataBin,
	".env":                      "SECRET=TOPSECRET",
	".well-known/security.txt":  "Contact: mailto:sec@example.com",
	".git/config":               "TOPSECRET",
	"video/clip.mp4":            "fake mp4",
	"img/pic.webp":              "fake webp",
	"img/logo.svg":              "<svg/>",
	"download/file.unknownext1": "\x00\x01binary",
}

var testRules = []Rule{
	{Match: "/img/special.png", CacheControl: "no-store", SurrogateKeys: []string{"special"}},
	{Match: "/img/*", CacheControl: "public, max-age=86400, immutable", SurrogateKeys: []string{"img", "static"}, ETag: true},
	{Match: "*.js", CacheControl: "public, max-age=60", SurrogateKeys: []string{"js"}, LastModified: true,
		Headers: map[string]string{"x-content-type-options": "nosniff", "X-Origin": "tern-static"}},
	{Match: "*.html", CacheControl: "no-cache", SurrogateKeys: []string{"html"}, ETag: true, LastModified: true},
}

// fixture writes fixtureFiles to <tmp>/site, a secret next to it, and returns
// the site folder.
func fixture(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	writeTree(t, tmp, map[string]string{"secret.txt": "TOPSECRET"})
	root := filepath.Join(tmp, "site")
	writeTree(t, root, fixtureFiles)
	return root
}

func etagOf(content string) string {
	sum := sha256.Sum256([]byte(content))
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

var lastMod = fixedTime.Format(http.TimeFormat)

func TestServeFilesAndDirectories(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t), Rules: testRules}, nil)
	tests := []struct {
		target string
		status int
		body   string
	}{
		{"/", 200, fixtureFiles["index.html"]},
		{"/index.html", 200, fixtureFiles["index.html"]},
		{"/docs/", 200, fixtureFiles["docs/index.html"]},
		{"/docs", 200, fixtureFiles["docs/index.html"]},
		{"/lib/util.js", 200, fixtureFiles["lib/util.js"]},
		{"/./notes.txt", 200, fixtureFiles["notes.txt"]},
		{"//notes.txt", 200, fixtureFiles["notes.txt"]},
		{"/empty/", 404, ""},
		{"/empty", 404, ""},
		{"/img/", 404, ""},
		{"/missing.txt", 404, ""},
		{"/notes.txt/x", 404, ""},
		{"/notes.txt/", 404, ""}, // a file is not a directory
		{"/docs/index.html/", 404, ""},
	}
	for _, tt := range tests {
		res, body, _ := o.raw(t, "GET", tt.target)
		if res.StatusCode != tt.status {
			t.Errorf("GET %s: status %d, want %d", tt.target, res.StatusCode, tt.status)
			continue
		}
		if tt.status == 200 && string(body) != tt.body {
			t.Errorf("GET %s: body %q, want %q", tt.target, body, tt.body)
		}
		if tt.status == 404 && strings.Contains(string(body), "readme.txt") {
			t.Errorf("GET %s: body lists the directory: %q", tt.target, body)
		}
	}
}

func TestContentType(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t)}, nil)
	for target, want := range map[string]string{
		"/index.html":     "text/html",
		"/app.js":         "text/javascript",
		"/style.css":      "text/css",
		"/video/clip.mp4": "video/mp4",
		"/img/pic.webp":   "image/webp",
		"/img/logo.svg":   "image/svg+xml",
		"/notes.txt":      "text/plain",
		// Unknown extension: http.ServeContent sniffs the content.
		"/download/file.unknownext1": "application/octet-stream",
	} {
		res, _ := o.do(t, "GET", target)
		got, _, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
		if res.StatusCode != 200 || err != nil || got != want {
			t.Errorf("GET %s: status %d, Content-Type %q, want 200, %s", target, res.StatusCode, res.Header.Get("Content-Type"), want)
		}
	}
}

func TestHEADHasNoBody(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t), Rules: testRules}, nil)
	res, body, rest := o.raw(t, "HEAD", "/data.bin")
	if res.StatusCode != 200 || len(body) != 0 || len(rest) != 0 {
		t.Fatalf("HEAD: status %d, body %d bytes, then %d bytes; want 200 and nothing", res.StatusCode, len(body), len(rest))
	}
	if got := res.Header.Get("Content-Length"); got != "1000" {
		t.Errorf("HEAD Content-Length %q, want 1000", got)
	}
	if got := res.Header.Get("ETag"); got != etagOf(dataBin) {
		t.Errorf("HEAD ETag %q, want %s", got, etagOf(dataBin))
	}
}

func TestMethodNotAllowed(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t)}, nil)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		res, _ := o.do(t, m, "/notes.txt")
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d, Allow %q; want 405, \"GET, HEAD\"", m, res.StatusCode, res.Header.Get("Allow"))
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t), Rules: testRules}, nil)
	tests := []struct {
		name, target string
		header       []string
		status       int
		cacheControl string // expected, also on a 304
	}{
		{"etag match", "/notes.txt", []string{"If-None-Match", etagOf(fixtureFiles["notes.txt"])}, 304, ""},
		{"etag in list", "/img/a.png", []string{"If-None-Match", `"x", ` + etagOf(fixtureFiles["img/a.png"])}, 304, testRules[1].CacheControl},
		{"etag mismatch", "/notes.txt", []string{"If-None-Match", `"0000"`}, 200, ""},
		{"modified since", "/app.js", []string{"If-Modified-Since", lastMod}, 304, testRules[2].CacheControl},
		{"rule without Last-Modified ignores it", "/img/a.png", []string{"If-Modified-Since", lastMod}, 200, testRules[1].CacheControl},
		{"rule without ETag ignores it", "/app.js", []string{"If-None-Match", etagOf(fixtureFiles["app.js"])}, 200, testRules[2].CacheControl},
	}
	for _, tt := range tests {
		res, body := o.do(t, "GET", tt.target, tt.header...)
		if res.StatusCode != tt.status || res.Header.Get("Cache-Control") != tt.cacheControl {
			t.Errorf("%s: status %d, Cache-Control %q; want %d, %q", tt.name, res.StatusCode, res.Header.Get("Cache-Control"), tt.status, tt.cacheControl)
		}
		if tt.status == 304 && len(body) != 0 {
			t.Errorf("%s: 304 with %d body bytes", tt.name, len(body))
		}
	}
}

func TestRange(t *testing.T) {
	o := startOrigin(t, Config{Root: fixture(t)}, nil)
	tests := []struct {
		name, rng, ifRange string
		status             int
		contentRange, body string
	}{
		{"middle", "bytes=10-19", "", 206, "bytes 10-19/1000", dataBin[10:20]},
		{"suffix", "bytes=-5", "", 206, "bytes 995-999/1000", dataBin[995:]},
		{"open end", "bytes=990-", "", 206, "bytes 990-999/1000", dataBin[990:]},
		{"clamped end", "bytes=998-5000", "", 206, "bytes 998-999/1000", dataBin[998:]},
		{"unsatisfiable", "bytes=2000-3000", "", 416, "bytes */1000", ""},
		{"if-range etag match", "bytes=0-3", etagOf(dataBin), 206, "bytes 0-3/1000", dataBin[:4]},
		{"if-range date match", "bytes=0-3", lastMod, 206, "bytes 0-3/1000", dataBin[:4]},
		{"if-range stale", "bytes=0-3", `"stale"`, 200, "", dataBin},
	}
	for _, tt := range tests {
		h := []string{"Range", tt.rng}
		if tt.ifRange != "" {
			h = append(h, "If-Range", tt.ifRange)
		}
		res, body := o.do(t, "GET", "/data.bin", h...)
		if res.StatusCode != tt.status || res.Header.Get("Content-Range") != tt.contentRange {
			t.Errorf("%s: status %d Content-Range %q, want %d %q", tt.name, res.StatusCode, res.Header.Get("Content-Range"), tt.status, tt.contentRange)
			continue
		}
		if tt.status != 416 && !bytes.Equal(body, []byte(tt.body)) {
			t.Errorf("%s: got %d bytes, want exactly %d bytes", tt.name, len(body), len(tt.body))
		}
	}

	res, body := o.do(t, "GET", "/data.bin", "Range", "bytes=0-1,5-6")
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if res.StatusCode != 206 || mt != "multipart/byteranges" || !bytes.Contains(body, []byte(dataBin[5:7])) {
		t.Errorf("multi-range: status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestRequestLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := startOrigin(t, Config{Root: fixture(t)}, log)
	o.do(t, "GET", "/docs/", "Range", "bytes=0-3")
	o.wait(t, 1) // the log line is written after the response

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1:\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("log line is not JSON: %v\n%s", err, lines[0])
	}
	want := map[string]any{
		"level": "DEBUG", "method": "GET", "path": "/docs/", "file": "/docs/index.html",
		"status": float64(206), "bytes": float64(4), "range": "bytes=0-3",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s = %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["seconds"].(float64); !ok {
		t.Errorf("log has no seconds: %s", lines[0])
	}
}

func TestRequestLogQuietAboveDebug(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	o := startOrigin(t, Config{Root: fixture(t)}, log)
	o.do(t, "GET", "/notes.txt")
	o.wait(t, 1)
	if buf.Len() != 0 {
		t.Errorf("logged at Info level: %s", buf.String())
	}
}
