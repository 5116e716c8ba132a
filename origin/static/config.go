package static

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
)

// Config of a static origin.
type Config struct {
	// Root is the folder served. It must exist and be a directory. A relative
	// path is resolved against the working directory when New is called.
	Root string `json:"root"`
	// Rules give each file its response headers; the first match wins.
	// A file that no rule matches gets an ETag and Last-Modified and no
	// Cache-Control.
	Rules []Rule `json:"rules,omitempty"`
}

// Rule sets the response headers of the files it matches. A matching rule
// replaces the defaults entirely: set ETag and LastModified on it to keep them.
type Rule struct {
	// Match is a path.Match pattern. With a '/' it is matched against the path
	// of the file served, which must then start with '/' ("/img/*"; a
	// directory request matches as its index, "/docs/index.html"). Without a
	// '/' it is matched against the file's base name ("*.js").
	Match string `json:"match"`
	// CacheControl is sent as Cache-Control when not empty.
	CacheControl string `json:"cache_control,omitempty"`
	// SurrogateKeys are sent space-separated as Surrogate-Key. Keys must not
	// be empty nor contain spaces or control characters.
	SurrogateKeys []string `json:"surrogate_keys,omitempty"`
	// ETag sends a strong ETag: the quoted hex of the first 16 bytes of the
	// SHA-256 of the content, computed once per file version.
	ETag bool `json:"etag,omitempty"`
	// LastModified sends Last-Modified from the file's modification time.
	LastModified bool `json:"last_modified,omitempty"`
	// Headers are sent as they are, after (and so overriding) the headers above.
	Headers map[string]string `json:"headers,omitempty"`
}

// rule is a Rule checked and prepared for matching.
type rule struct {
	pattern      string
	base         bool // match the base name, not the whole path
	cacheControl string
	surrogate    string
	etag         bool
	lastModified bool
	headers      [][2]string // canonical name, value
}

// defaultRule applies to files that no rule matches.
var defaultRule = &rule{etag: true, lastModified: true}

func compileRules(rules []Rule) ([]*rule, error) {
	out := make([]*rule, 0, len(rules))
	for i, r := range rules {
		c, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("rule %d (%q): %w", i, r.Match, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func compileRule(r Rule) (*rule, error) {
	if r.Match == "" {
		return nil, errors.New("empty match pattern")
	}
	if _, err := path.Match(r.Match, ""); err != nil {
		return nil, fmt.Errorf("bad match pattern: %w", err)
	}
	base := !strings.Contains(r.Match, "/")
	if !base && !strings.HasPrefix(r.Match, "/") {
		return nil, errors.New("a pattern with '/' must start with '/'")
	}
	if badValue(r.CacheControl) {
		return nil, errors.New("cache control has control characters")
	}
	for _, k := range r.SurrogateKeys {
		if k == "" || strings.ContainsFunc(k, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
			return nil, fmt.Errorf("bad surrogate key %q", k)
		}
	}
	c := &rule{
		pattern:      r.Match,
		base:         base,
		cacheControl: r.CacheControl,
		surrogate:    strings.Join(r.SurrogateKeys, " "),
		etag:         r.ETag,
		lastModified: r.LastModified,
	}
	for name, value := range r.Headers {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("bad header name %q", name)
		}
		if badValue(value) {
			return nil, fmt.Errorf("header %q has control characters", name)
		}
		c.headers = append(c.headers, [2]string{http.CanonicalHeaderKey(name), value})
	}
	return c, nil
}

// match reports whether the rule applies to the file at urlPath ("/img/a.png").
func (r *rule) match(urlPath string) bool {
	name := urlPath
	if r.base {
		name = path.Base(urlPath)
	}
	ok, _ := path.Match(r.pattern, name) // the pattern was checked in compileRule
	return ok
}

// apply sets the rule's headers except ETag and Last-Modified.
func (r *rule) apply(h http.Header) {
	if r.cacheControl != "" {
		h.Set("Cache-Control", r.cacheControl)
	}
	if r.surrogate != "" {
		h.Set("Surrogate-Key", r.surrogate)
	}
	for _, kv := range r.headers {
		h.Set(kv[0], kv[1])
	}
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// badValue reports whether a header value has control characters (CR, LF...).
func badValue(s string) bool {
	return strings.ContainsFunc(s, func(c rune) bool { return (c < ' ' && c != '\t') || c == 0x7f })
}
