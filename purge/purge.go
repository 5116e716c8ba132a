package purge

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Purge is one purge request as it travels on the stream. Its JSON field
// names are Cloudflare's purge_cache ones (files, prefixes, tags, hosts,
// purge_everything) plus "site" and "soft" (Fastly's soft purge: mark stale
// instead of delete).
type Purge struct {
	// ID is the purge's nonce, set by the API; its public id is
	// PublicID(stream sequence, ID).
	ID string `json:"id,omitempty"`
	// Site is the topology site name the purge applies to. Required.
	Site string `json:"site"`
	// Files are absolute URLs of the site's hosts, or paths ("/app.js")
	// meaning that path on every host of the site.
	Files []string `json:"files,omitempty"`
	// Prefixes are URL path prefixes ("/img/"), or host+path prefixes
	// ("www.example.com/img/").
	Prefixes []string `json:"prefixes,omitempty"`
	// Tags are surrogate keys (Surrogate-Key, Cache-Tag).
	Tags []string `json:"tags,omitempty"`
	// Hosts purge everything of these hosts of the site.
	Hosts []string `json:"hosts,omitempty"`
	// Everything purges everything of the site.
	Everything bool `json:"purge_everything,omitempty"`
	// Soft marks the matching objects stale instead of deleting them.
	Soft bool `json:"soft,omitempty"`
	// Accepted is when the API accepted the purge (for the accept→applied
	// histogram); the API sets it.
	Accepted time.Time `json:"accepted,omitzero"`
}

// Kind is the purge's kind for metrics and logs: "everything", "hosts",
// "tags", "prefixes", "files", or "mixed" when it has several.
func (p Purge) Kind() string {
	var kinds []string
	if p.Everything {
		kinds = append(kinds, "everything")
	}
	for _, k := range []struct {
		name string
		n    int
	}{{"hosts", len(p.Hosts)}, {"tags", len(p.Tags)}, {"prefixes", len(p.Prefixes)}, {"files", len(p.Files)}} {
		if k.n > 0 {
			kinds = append(kinds, k.name)
		}
	}
	switch len(kinds) {
	case 0:
		return "none"
	case 1:
		return kinds[0]
	}
	return "mixed"
}

// Entries counts the selectors of the purge (purge_everything counts one).
func (p Purge) Entries() int {
	n := len(p.Files) + len(p.Prefixes) + len(p.Tags) + len(p.Hosts)
	if p.Everything {
		n++
	}
	return n
}

// Limits bound one purge call.
type Limits struct {
	// MaxEntries is the most selectors one call may carry (Cloudflare: 30
	// files per call on most plans; we count every selector).
	MaxEntries int
	// MaxEntryLen is the longest URL, prefix, tag or host accepted.
	MaxEntryLen int
}

// The limits used where a Limits field is zero.
const (
	DefaultMaxEntries  = 100
	DefaultMaxEntryLen = 2048
)

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxEntryLen <= 0 {
		l.MaxEntryLen = DefaultMaxEntryLen
	}
	return l
}

// ErrTooMany is returned (wrapped) by Validate when a purge has more
// entries than allowed; the API answers it with 413.
var ErrTooMany = errors.New("too many entries")

// ErrInvalid is returned (wrapped) by Validate for every other problem; the
// API answers it with 400.
var ErrInvalid = errors.New("invalid purge")

// Validate checks a purge against the hosts of its site: it needs at least
// one selector, no empty entry, no more than the limits, and URLs, prefixes
// and hosts of the site's own hosts only. It normalizes hosts to lower case.
func (p *Purge) Validate(siteHosts []string, lim Limits) error {
	lim = lim.withDefaults()
	if p.Site == "" {
		return fmt.Errorf("%w: site is required", ErrInvalid)
	}
	if p.Entries() == 0 {
		return fmt.Errorf("%w: give files, prefixes, tags, hosts or purge_everything", ErrInvalid)
	}
	if n := p.Entries(); n > lim.MaxEntries {
		return fmt.Errorf("%w: %d entries, at most %d per call", ErrTooMany, n, lim.MaxEntries)
	}
	lists := []struct {
		field string
		items []string
		check func(string, []string) error
	}{
		{"files", p.Files, checkFile},
		{"prefixes", p.Prefixes, checkPrefix},
		{"tags", p.Tags, checkTag},
		{"hosts", p.Hosts, checkHost},
	}
	for _, l := range lists {
		for i, e := range l.items {
			if e == "" {
				return fmt.Errorf("%w: %s[%d] is empty", ErrInvalid, l.field, i)
			}
			if len(e) > lim.MaxEntryLen {
				return fmt.Errorf("%w: %s[%d] is longer than %d bytes", ErrInvalid, l.field, i, lim.MaxEntryLen)
			}
			if err := l.check(e, siteHosts); err != nil {
				return fmt.Errorf("%w: %s[%d] %q: %v", ErrInvalid, l.field, i, e, err)
			}
		}
	}
	for i, h := range p.Hosts {
		p.Hosts[i] = strings.ToLower(h)
	}
	return nil
}

// checkFile accepts a path ("/app.js") or an http(s) URL of a site host.
func checkFile(f string, hosts []string) error {
	if strings.HasPrefix(f, "/") {
		if strings.HasPrefix(f, "//") {
			return errors.New("is a scheme-relative URL; give the scheme or a path")
		}
		return nil
	}
	u, err := url.Parse(f)
	if err != nil {
		return errors.New("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("is neither a path nor an http(s) URL")
	}
	return ownHost(u.Hostname(), hosts)
}

// checkPrefix accepts a path prefix ("/img/") or host/path ("www.x/img/").
func checkPrefix(p string, hosts []string) error {
	if strings.HasPrefix(p, "/") {
		return nil
	}
	if strings.Contains(p, "://") {
		u, err := url.Parse(p)
		if err != nil {
			return errors.New("is not a URL")
		}
		return ownHost(u.Hostname(), hosts)
	}
	host, _, _ := strings.Cut(p, "/")
	return ownHost(host, hosts)
}

func checkTag(t string, _ []string) error {
	if strings.ContainsAny(t, " ,\t\r\n") {
		return errors.New("has white space or a comma")
	}
	return nil
}

func checkHost(h string, hosts []string) error { return ownHost(h, hosts) }

func ownHost(h string, hosts []string) error {
	if !slices.Contains(hosts, strings.ToLower(h)) {
		return errors.New("is not a host of the site")
	}
	return nil
}

// PublicID is the id the API gives a purge: its stream sequence and its
// nonce, so that any purge node can find it in the stream with no state of
// its own, and nobody can guess another's id from a sequence alone.
func PublicID(seq uint64, nonce string) string {
	return fmt.Sprintf("%d-%s", seq, nonce)
}

// ParseID splits a public id into its sequence and nonce.
func ParseID(id string) (seq uint64, nonce string, ok bool) {
	s, nonce, found := strings.Cut(id, "-")
	if !found || nonce == "" {
		return 0, "", false
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil || seq == 0 {
		return 0, "", false
	}
	return seq, nonce, true
}
