package edge

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/origin"
)

// Site is one property the handler serves.
type Site struct {
	// Name labels the site in logs.
	Name string
	// Hosts are the Host values that select the site (lower case, no port).
	Hosts []string
	// Origin is the base URL requests are sent to; its path, if any, is
	// prefixed to the request path.
	Origin *url.URL
	// OriginHost replaces the Host sent upstream when the upstream is the
	// origin itself (see Config.Shielded). Empty keeps the client's Host.
	OriginHost string
	// Policy is the site's cache policy.
	Policy httpcache.Policy
	// RedirectHTTPS answers plain-HTTP requests at a client-facing node
	// with a 308 to the same URL over HTTPS (Config.HTTPSPort).
	RedirectHTTPS bool
	// HSTS, when positive, is sent as Strict-Transport-Security max-age on
	// HTTPS responses.
	HSTS time.Duration
	// MinTLSVersion is the lowest TLS version (tls.VersionTLS13, ...) a
	// request for the site may arrive on; lower gets 421. The listener
	// picks the version by SNI, the handler the site by Host, so this is
	// checked again per request. 0: any.
	MinTLSVersion uint16
	// hsts is the Strict-Transport-Security value, made once.
	hsts []string
	// KeyHeaders are request fields the origin builds responses from that
	// are otherwise dropped as cache-poisoning vectors (X-Forwarded-Host
	// and the like): named here, they are forwarded and become part of the
	// cache key, so each value gets its own entry.
	KeyHeaders []string
	// SendSurrogateKeys passes Surrogate-Key and Cache-Tag on to clients
	// at a client-facing node, which otherwise strips them (the entries
	// keep their keys either way, for purges).
	SendSurrogateKeys bool
	// Compression serves the site's text responses compressed to
	// clients that accept it, at a client-facing node. Zero: off.
	Compression Compression
	// Tier is where the site's responses are stored; Tiers override it
	// for the paths they match (the first match wins). Zero: every tier.
	Tier  httpcache.Tier
	Tiers []TierRule
}

// TierRule chooses the store tier of the paths it matches.
type TierRule struct {
	// Match is a path.Match pattern: with a '/', against the URL path
	// ("/video/*"); without, against the last segment ("*.mp4").
	Match string
	Tier  httpcache.Tier
}

// Config configures a Handler. Zero values take the defaults noted.
type Config struct {
	// Node names this cache in Via and Cache-Status. Required.
	Node string
	// Sites are the properties served; any other Host is refused with 421
	// and never reaches an upstream. Required.
	Sites []Site
	// Upstream sends fetches on; requests carry the site's origin URL and
	// the client's Host. Required.
	Upstream http.RoundTripper
	// Shielded says Upstream leads to shields, not the origin: the Host sent
	// is then always the client's, so the shield can find the site.
	Shielded bool
	// ClientFacing strips the fields meant for CDN caches only
	// (CDN-Cache-Control, Surrogate-Control, Surrogate-Key) from responses.
	// Edges set it; shields keep them for the edges behind them.
	ClientFacing bool
	// PurgeApplied, if set, returns the last purge (stream sequence) this
	// node applied. A shielded node sends it to its upstream
	// (origin.PurgeSeqHeader); a node whose own is lower than a fleet
	// request's answers that request from upstream, not from its cache.
	PurgeApplied func() uint64
	// HTTPSPort is the port HTTPS redirects point to. Default: 443.
	HTTPSPort int
	// Store keeps responses. Required.
	Store httpcache.Store
	// MaxObjectSize is the largest body stored whole; larger bodies stream
	// through uncached unless they are sliced. Default: 16 MiB.
	MaxObjectSize int64
	// SliceSize is the size of the slices large objects are fetched and
	// stored in, with Range requests. 0: no slicing.
	SliceSize int64
	// UpstreamTimeout bounds the wait for upstream response headers.
	// Default: 15s.
	UpstreamTimeout time.Duration
	// UpstreamTotalTimeout bounds a whole upstream exchange, body
	// included. Default: 10m.
	UpstreamTotalTimeout time.Duration
	// Fleet authenticates the fleet's own requests (an edge's, seen from
	// its shield): their X-Forwarded-For, X-Forwarded-Proto and Forwarded
	// are kept as they are, their Via is believed for loop detection, and
	// they alone get this node's Tern-Error. Nil or without a secret: no
	// request is the fleet's.
	Fleet *origin.Fleet
	// TrustedProxies are other proxies (not of the fleet: a load balancer
	// in front of the edges) whose X-Forwarded-For, X-Forwarded-Proto and
	// Forwarded fields are kept and appended to; from anyone else they are
	// replaced. Never derived from the topology.
	TrustedProxies []netip.Prefix
	// HitForPass is how long a URL whose response could not be shared
	// bypasses request collapsing. Default: 30s.
	HitForPass time.Duration
	// AbandonPerConn and AbandonPerNet budget the fills a client starts
	// and leaves before they are answered, per connection (closed past
	// it) and per /24 or /64 (new fills refused with 429 past it); see
	// abandon.go. Zero: 16 and 50 per 10s. Trusted proxies are exempt.
	AbandonPerConn, AbandonPerNet AbandonLimit
	// Logger receives request errors. Default: discard.
	Logger *slog.Logger
	// Registerer receives the handler's metrics. Default: none kept.
	Registerer prometheus.Registerer
	// Now is the clock, for tests. Default: time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() error {
	if c.Node == "" {
		return fmt.Errorf("edge: config: Node is required")
	}
	if c.Upstream == nil {
		return fmt.Errorf("edge: config: Upstream is required")
	}
	if c.Store == nil {
		return fmt.Errorf("edge: config: Store is required")
	}
	if len(c.Sites) == 0 {
		return fmt.Errorf("edge: config: at least one site is required")
	}
	if c.MaxObjectSize <= 0 {
		c.MaxObjectSize = 16 << 20
	}
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = 15 * time.Second
	}
	if c.UpstreamTotalTimeout <= 0 {
		c.UpstreamTotalTimeout = 10 * time.Minute
	}
	if c.HTTPSPort <= 0 {
		c.HTTPSPort = 443
	}
	if c.HitForPass <= 0 {
		c.HitForPass = 30 * time.Second
	}
	if c.AbandonPerConn.Burst <= 0 {
		c.AbandonPerConn = defaultAbandonPerConn
	}
	if c.AbandonPerNet.Burst <= 0 {
		c.AbandonPerNet = defaultAbandonPerNet
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// siteIndex maps a normalized host to its site.
type siteIndex map[string]*Site

func newSiteIndex(sites []Site) (siteIndex, error) {
	idx := make(siteIndex)
	for i := range sites {
		s := &sites[i]
		if s.HSTS > 0 {
			s.hsts = []string{"max-age=" + strconv.FormatInt(int64(s.HSTS/time.Second), 10)}
		}
		if s.Origin == nil || s.Origin.Host == "" {
			return nil, fmt.Errorf("edge: site %q: origin URL with a host is required", s.Name)
		}
		c, err := s.Compression.withDefaults()
		if err != nil {
			return nil, fmt.Errorf("edge: site %q: compression: %w", s.Name, err)
		}
		s.Compression = c
		for _, h := range s.Hosts {
			h = normalizeHost(h)
			if _, dup := idx[h]; dup {
				return nil, fmt.Errorf("edge: host %q belongs to two sites", h)
			}
			idx[h] = s
		}
	}
	return idx, nil
}

// NormalizeHost is the form of a Host (or SNI) sites are looked up by:
// without port or final dot, lower case.
func NormalizeHost(h string) string { return normalizeHost(h) }

// normalizeHost lower-cases a Host value and drops its port and any
// trailing dot.
func normalizeHost(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[:i+1]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if 'A' <= h[i] && h[i] <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}
