package edge

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// Compression is how a client-facing edge compresses a site's text
// responses that its origin sent uncompressed. Each object is compressed
// once per coding, in the background on the first request that accepts
// that coding, and the result is stored beside the object in every tier
// it may live in: later hits send the stored bytes and spend no CPU on
// compression. The zero value is off.
type Compression struct {
	// Codings are offered, in the edge's order of preference among those
	// a client accepts equally: "br", "zstd", "gzip". Empty: off.
	Codings []string
	// Types are the media types compressed: exact ("application/json")
	// or a whole top-level type ("text/*"). Default: DefaultCompressTypes.
	Types []string
	// MinSize is the smallest body compressed: below it the saving does
	// not pay for the Vary and a second stored copy. Default: 1 KiB.
	MinSize int64
	// MaxSize is the largest body compressed. Default: 16 MiB.
	MaxSize int64
}

// DefaultCompressTypes are the types compressed when a site names none:
// text formats that compress well, and fonts and WASM, which do too.
var DefaultCompressTypes = []string{
	"text/*", "application/javascript", "application/json", "application/xml",
	"application/xhtml+xml", "application/rss+xml", "application/atom+xml",
	"application/manifest+json", "application/ld+json", "application/wasm",
	"image/svg+xml", "font/ttf", "font/otf", "application/vnd.ms-fontobject",
}

// Codings the edge can produce.
var knownCodings = map[string]bool{"br": true, "zstd": true, "gzip": true}

func (c Compression) on() bool { return len(c.Codings) > 0 }

// sizeFits reports whether a body of n bytes is compressed.
func (c Compression) sizeFits(n int64) bool { return n >= c.MinSize && n <= c.MaxSize }

func (c Compression) withDefaults() (Compression, error) {
	for _, cd := range c.Codings {
		if !knownCodings[cd] {
			return c, fmt.Errorf("unknown content coding %q (want br, zstd or gzip)", cd)
		}
	}
	if len(c.Types) == 0 {
		c.Types = DefaultCompressTypes
	}
	if c.MinSize <= 0 {
		c.MinSize = 1 << 10
	}
	if c.MaxSize <= 0 {
		c.MaxSize = 16 << 20
	}
	return c, nil
}

// compressible reports whether a response the site stores may be served
// compressed by this edge: a whole 200 in a listed type, uncompressed,
// that its origin does not forbid transforming.
func (c Compression) compressible(code int, hdr http.Header) bool {
	if !c.on() || code != http.StatusOK || hdr.Get("Content-Encoding") != "" || hdr.Get("Content-Range") != "" {
		return false
	}
	if httpcache.ParseCacheControl(hdr["Cache-Control"]).NoTransform {
		return false
	}
	mt, _, err := mime.ParseMediaType(hdr.Get("Content-Type"))
	if err != nil {
		return false
	}
	for _, t := range c.Types {
		if t == mt || (strings.HasSuffix(t, "/*") && strings.HasPrefix(mt, t[:len(t)-1])) {
			return true
		}
	}
	return false
}

// chooseCoding picks the coding of offered a request's Accept-Encoding
// values prefer (RFC 9110 §12.5.3): the highest q, ties going to the
// earlier offered; "" for none (identity). It does not allocate: it runs
// on hits.
func chooseCoding(values []string, offered []string) string {
	best, bestQ := "", 0.0
	for _, cd := range offered {
		if q := codingQ(values, cd); q > bestQ {
			best, bestQ = cd, q
		}
	}
	return best
}

// codingQ is the weight values give coding: its own entry's q, else that
// of "*", else 0.
func codingQ(values []string, coding string) float64 {
	q, star := -1.0, -1.0
	for _, v := range values {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			w := qValue(params)
			switch {
			case strings.EqualFold(name, coding):
				q = max(q, w)
			case name == "*":
				star = max(star, w)
			}
		}
	}
	switch {
	case q >= 0:
		return q
	case star >= 0:
		return star
	}
	return 0
}

// qValue is the q parameter of params (1 when absent; 0 when malformed,
// so a broken weight never selects a coding).
func qValue(params string) float64 {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}

// codedKey is where the coding variant of the entry stored under key,
// of generation gen, is stored.
func codedKey(key string, gen uint64, coding string) string {
	return key + "\x00ce=" + coding + "." + strconv.FormatUint(gen, 10)
}

// codedVariant returns the stored coding variant of e (found under key)
// for a request that accepts one, and its key. e must be fresh: a stale
// or soft-purged entry is served (or revalidated) as identity, since its
// variant does not carry the purge. A missing variant is made in the
// background and nil returned, so this request gets identity now.
func (h *Handler) codedVariant(r *http.Request, s *Site, key string, e *httpcache.Entry, noTransform bool) (*httpcache.Entry, string) {
	if e.CodingGen == 0 || !s.Compression.on() || noTransform || r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil, ""
	}
	size := e.BodySize()
	if e.Sliced || !s.Compression.sizeFits(size) {
		return nil, ""
	}
	coding := chooseCoding(r.Header["Accept-Encoding"], s.Compression.Codings)
	if coding == "" {
		return nil, ""
	}
	if e.ETag == "" && len(r.Header["If-Range"]) > 0 {
		// The identity and its variants share Last-Modified: a date in
		// If-Range cannot tell whose bytes the client holds.
		return nil, ""
	}
	ck, ok := e.DerivedKey(key, coding)
	if !ok {
		ck = codedKey(key, e.CodingGen, coding)
		e.SetDerivedKey(key, coding, ck)
	}
	if v, ok := h.store.Get(ck); ok && v.ResponseTime.Equal(e.ResponseTime) && v.Lifetime == e.Lifetime {
		if v.HitForPass {
			return nil, "" // compressing it saved nothing
		}
		h.m.codedHits.WithLabelValues(coding).Inc()
		h.m.codedSaved.WithLabelValues(coding).Add(float64(size - v.BodySize()))
		return v, ck
	}
	h.compressLater(ck, e, coding)
	return nil, ""
}

// compressLater makes and stores the coding variant of e under ck in the
// background, once however many requests ask for it meanwhile.
func (h *Handler) compressLater(ck string, e *httpcache.Entry, coding string) {
	h.codingMu.Lock()
	if h.coding[ck] {
		h.codingMu.Unlock()
		return
	}
	if h.coding == nil {
		h.coding = make(map[string]bool)
	}
	h.coding[ck] = true
	h.codingMu.Unlock()
	h.goSafe(func() {
		defer func() {
			h.codingMu.Lock()
			delete(h.coding, ck)
			h.codingMu.Unlock()
		}()
		h.codingSlots <- struct{}{}
		defer func() { <-h.codingSlots }()
		start := time.Now()
		v, err := codedEntry(e, coding)
		if err != nil {
			h.m.compressions.WithLabelValues(coding, "error").Inc()
			h.cfg.Logger.Warn("edge: compression failed", "key", ck, "coding", coding, "err", err)
			return
		}
		h.m.compressSeconds.WithLabelValues(coding).Observe(time.Since(start).Seconds())
		if v.BodySize() >= e.BodySize() {
			// Nothing saved: remember that, so the identity is served
			// and nobody compresses it again.
			h.m.compressions.WithLabelValues(coding, "no-gain").Inc()
			v = &httpcache.Entry{HitForPass: true, Header: http.Header{}, ResponseTime: e.ResponseTime,
				Lifetime: e.Lifetime, StaleIfError: e.StaleIfError, StaleWhileRevalidate: e.StaleWhileRevalidate}
			h.store.Set(ck, v, e.StoreTTL(h.cfg.Now()))
			return
		}
		if ttl := v.StoreTTL(h.cfg.Now()); ttl > 0 && h.store.Set(ck, v, ttl) {
			h.m.compressions.WithLabelValues(coding, "stored").Inc()
			return
		}
		h.m.compressions.WithLabelValues(coding, "not-stored").Inc()
	})
}

// codedEntry is e with its body compressed with coding: the same
// freshness and keys, its own length, a validator of its own (a strong
// ETag names one sequence of bytes, RFC 9110 §8.8.3), and Vary:
// Accept-Encoding.
func codedEntry(e *httpcache.Entry, coding string) (*httpcache.Entry, error) {
	src, err := wholeBody(e)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(src) / 3)
	var w io.WriteCloser
	switch coding {
	case "br":
		w = brotli.NewWriterLevel(&buf, 6)
	case "zstd":
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
	case "gzip":
		w, err = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	default:
		err = fmt.Errorf("unknown coding %q", coding)
	}
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(src); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	v := *e
	v.EnableMemo()
	v.Body, v.File, v.CodingGen = storedBody(buf.Bytes()), nil, 0
	v.Header = e.Header.Clone()
	v.Header["Content-Encoding"] = []string{coding}
	v.Header["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	v.Header["Vary"] = identityVary(e.Header)
	if e.ETag != "" {
		v.ETag = codedETag(e.ETag, coding)
		v.Header["Etag"] = []string{v.ETag}
	}
	return &v, nil
}

// wholeBody reads e's body, from memory or from its file.
func wholeBody(e *httpcache.Entry) ([]byte, error) {
	if e.File == nil {
		return e.Body, nil
	}
	f, err := e.File.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, e.File.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}

// codedETag is the validator of etag's representation in coding:
// "abc" becomes "abc-br", W/"abc" W/"abc-br".
func codedETag(etag, coding string) string {
	if strings.HasSuffix(etag, `"`) && len(etag) >= 2 {
		return etag[:len(etag)-1] + "-" + coding + `"`
	}
	return etag
}

// varyAE is the Vary of a compressible response that varies on nothing
// else. Shared by every such response: never modified.
var varyAE = []string{"Accept-Encoding"}

// identityVary is the Vary a compressible response is served with: its
// own, plus Accept-Encoding.
func identityVary(hdr http.Header) []string {
	vs := hdr["Vary"]
	if len(vs) == 0 {
		return varyAE
	}
	for _, v := range vs {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Accept-Encoding") {
				return vs
			}
		}
	}
	return []string{strings.Join(vs, ", ") + ", Accept-Encoding"}
}
