package static

import (
	"bytes"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// siteRoot is the demo site served by `tern demo`.
const siteRoot = "../../testdata/site"

// siteRules are rules like the demo's: one policy and key per kind of asset.
var siteRules = []Rule{
	{Match: "/video/*", CacheControl: "public, max-age=604800", SurrogateKeys: []string{"demo", "video"}, ETag: true, LastModified: true},
	{Match: "/img/*", CacheControl: "public, max-age=86400", SurrogateKeys: []string{"demo", "img"}, ETag: true, LastModified: true},
	{Match: "*.js", CacheControl: "public, max-age=300", SurrogateKeys: []string{"demo", "js"}, ETag: true},
	{Match: "*.css", CacheControl: "public, max-age=300", SurrogateKeys: []string{"demo", "css"}, ETag: true},
	{Match: "*.html", CacheControl: "public, max-age=0, must-revalidate", SurrogateKeys: []string{"demo", "html"}, ETag: true, LastModified: true},
}

// siteTypes is the media type expected per extension; a new kind of file in
// the site must be added here.
var siteTypes = map[string][]string{
	".html": {"text/html"},
	".css":  {"text/css"},
	".js":   {"text/javascript", "application/javascript"},
	".png":  {"image/png"},
	".jpg":  {"image/jpeg"},
	".svg":  {"image/svg+xml"},
	".webp": {"image/webp"},
	".mp4":  {"video/mp4"},
}

func TestDemoSite(t *testing.T) {
	o := startOrigin(t, Config{Root: siteRoot, Rules: siteRules}, nil)
	index, err := os.ReadFile(filepath.Join(siteRoot, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	var files int
	err = filepath.WalkDir(siteRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		rel := filepath.ToSlash(strings.TrimPrefix(p, siteRoot+string(filepath.Separator)))
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		res, body := o.do(t, "GET", "/"+rel)
		if res.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("GET /%s: status %d, %d bytes, want 200 and the %d bytes of the file", rel, res.StatusCode, len(body), len(want))
		}
		ct := res.Header.Get("Content-Type")
		mt, params, _ := mime.ParseMediaType(ct)
		types, ok := siteTypes[filepath.Ext(rel)]
		switch {
		case !ok:
			t.Errorf("/%s: no expected Content-Type for %q in siteTypes", rel, filepath.Ext(rel))
		case !slices.Contains(types, mt):
			t.Errorf("/%s: Content-Type %q, want %v", rel, ct, types)
		case strings.HasPrefix(mt, "text/") && !strings.EqualFold(params["charset"], "utf-8"):
			t.Errorf("/%s: Content-Type %q lacks charset=utf-8", rel, ct)
		}
		if res.Header.Get("Cache-Control") == "" || !strings.HasPrefix(res.Header.Get("Surrogate-Key"), "demo ") || res.Header.Get("ETag") == "" {
			t.Errorf("/%s: Cache-Control %q, Surrogate-Key %q, ETag %q", rel, res.Header.Get("Cache-Control"), res.Header.Get("Surrogate-Key"), res.Header.Get("ETag"))
		}
		if strings.HasPrefix(rel, "img/") && len(want) > 200<<10 {
			t.Errorf("/%s is %d bytes, keep images under 200 KB", rel, len(want))
		}
		if rel != "index.html" && !bytes.Contains(index, []byte(`"`+rel+`"`)) {
			t.Errorf("index.html does not use %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 8 {
		t.Errorf("demo site has %d files, want at least 8", files)
	}

	res, body := o.do(t, "GET", "/")
	if res.StatusCode != 200 || !bytes.Equal(body, index) {
		t.Errorf("GET /: status %d, want index.html", res.StatusCode)
	}
}

// TestDemoVideo checks that demo.mp4 is big enough to show range requests and
// that a browser can seek in it: ranges work and the moov box precedes mdat.
func TestDemoVideo(t *testing.T) {
	video, err := os.ReadFile(filepath.Join(siteRoot, "video", "demo.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if len(video) < 5<<20 {
		t.Errorf("demo.mp4 is %d bytes, want at least 5 MB", len(video))
	}
	if moov, mdat := bytes.Index(video, []byte("moov")), bytes.Index(video, []byte("mdat")); moov < 0 || mdat < 0 || moov > mdat {
		t.Errorf("demo.mp4: moov at %d, mdat at %d; want moov first (-movflags +faststart)", moov, mdat)
	}
	o := startOrigin(t, Config{Root: siteRoot, Rules: siteRules}, nil)
	res, body := o.do(t, "GET", "/video/demo.mp4", "Range", "bytes=4000000-4000099")
	if res.StatusCode != 206 || !bytes.Equal(body, video[4000000:4000100]) {
		t.Errorf("range in demo.mp4: status %d, %d bytes", res.StatusCode, len(body))
	}
}
