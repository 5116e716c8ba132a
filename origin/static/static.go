package static

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Server serves the files of one folder. It is safe for concurrent use.
type Server struct {
	root    string // absolute
	rules   []*rule
	etags   *etagCache
	metrics *metrics
	log     *slog.Logger
	now     func() time.Time // Testing.
}

// New checks that cfg.Root is a directory and compiles the rules. Metrics are
// registered on reg (nil: not registered); collectors already registered
// there by another Server are shared. A nil log discards the request logs.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Server, error) {
	if cfg.Root == "" {
		return nil, errors.New("origin/static: empty root")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("origin/static: root %q: %w", cfg.Root, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("origin/static: root %q: %w", cfg.Root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("origin/static: root %q is not a directory", cfg.Root)
	}
	rules, err := compileRules(cfg.Rules)
	if err != nil {
		return nil, fmt.Errorf("origin/static: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("origin/static: metrics: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{root: root, rules: rules, etags: newETagCache(), metrics: m, log: log, now: time.Now}, nil
}

// ServeHTTP serves the file named by the request path (see the package doc).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	rec := &recorder{ResponseWriter: w}
	file, err := s.serve(rec, r)
	status := rec.code()
	s.metrics.observe(status, rec.bytes)

	ctx := r.Context()
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("file", file),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Float64("seconds", s.now().Sub(start).Seconds()),
	}
	if rg := r.Header.Get("Range"); rg != "" {
		attrs = append(attrs, slog.String("range", rg))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "static origin request", attrs...)
}

// serve answers r and returns the path of the file served, if any, and the
// error behind a failure, for the request log.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed)
		return "", nil
	}
	name, status := cleanPath(r)
	if status != 0 {
		httpError(w, status)
		return "", nil
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		httpError(w, http.StatusInternalServerError)
		return "", err
	}
	defer root.Close()

	f, fi, name, err := open(root, name, strings.HasSuffix(r.URL.Path, "/"))
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			httpError(w, http.StatusForbidden)
		} else {
			httpError(w, http.StatusNotFound)
		}
		return "", err
	}
	defer f.Close()
	file := "/" + name

	ru := s.ruleFor(file)
	h := w.Header()
	if ct := contentType(name); ct != "" {
		h.Set("Content-Type", ct)
	}
	if ru.etag {
		etag, err := s.etags.get(name, f, fi)
		if err != nil {
			httpError(w, http.StatusInternalServerError)
			return file, err
		}
		h.Set("ETag", etag)
	}
	ru.apply(h)
	var mod time.Time // zero: no Last-Modified, no If-Modified-Since
	if ru.lastModified {
		mod = fi.ModTime()
	}
	http.ServeContent(w, r, name, mod, f)
	return file, nil
}

// ruleFor returns the first rule matching the file path, else the default.
func (s *Server) ruleFor(file string) *rule {
	for _, ru := range s.rules {
		if ru.match(file) {
			return ru
		}
	}
	return defaultRule
}

// cleanPath returns the slash-separated path to open inside the root ("." for
// the root itself), or a non-zero status: 400 for ".." segments, encoded
// slashes, backslashes and NULs, 404 for hidden names (".env", ".git/...").
func cleanPath(r *http.Request) (string, int) {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return "", http.StatusBadRequest
	}
	if strings.Contains(strings.ToLower(r.URL.EscapedPath()), "%2f") {
		return "", http.StatusBadRequest
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return "", http.StatusBadRequest
		}
	}
	p = path.Clean(p)
	for seg := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(seg, ".") && seg != ".well-known" {
			return "", http.StatusNotFound
		}
	}
	if p == "/" {
		return ".", 0
	}
	return p[1:], 0
}

// open opens name inside root; a directory is replaced by its index.html.
// Only regular files are served, and not for a path ending in '/' (dirOnly).
// It returns the name actually opened.
func open(root *os.Root, name string, dirOnly bool) (*os.File, fs.FileInfo, string, error) {
	f, fi, err := openRegular(root, name)
	if err == nil && dirOnly && !fi.IsDir() {
		f.Close()
		err = fmt.Errorf("%s/: %w", name, fs.ErrNotExist)
	}
	if err == nil && fi.IsDir() {
		f.Close()
		name = path.Join(name, "index.html")
		f, fi, err = openRegular(root, name)
		if err == nil && fi.IsDir() {
			f.Close()
			err = fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
	}
	if err != nil {
		return nil, nil, "", err
	}
	return f, fi, name, nil
}

// openRegular opens name if it is a regular file or a directory. It checks
// before opening too, so that opening a FIFO or a device cannot block.
func openRegular(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	if fi, err := root.Stat(name); err != nil {
		return nil, nil, err
	} else if !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil, nil, fmt.Errorf("%s: not a regular file: %w", name, fs.ErrNotExist)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		err = fmt.Errorf("%s: not a regular file: %w", name, fs.ErrNotExist)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

func httpError(w http.ResponseWriter, status int) {
	http.Error(w, http.StatusText(status), status)
}
