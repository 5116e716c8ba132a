package configs

import "net/netip"

// Topology is the whole CDN: every process reads the same file and runs the
// node(s) it is told to.
type Topology struct {
	// Sites are the hostnames Tern serves and where their content comes from.
	// Required: at least one.
	Sites []Site `yaml:"sites"`
	// Datacenters hold the edge and shield nodes. Required: at least one.
	Datacenters []Datacenter `yaml:"datacenters"`
	// Origins are built-in static origin servers (the demo's, and tests').
	// Optional.
	Origins []StaticOrigin `yaml:"origins,omitempty"`
	// Cache sets the cache engine limits of every edge and shield node.
	Cache Cache `yaml:"cache,omitempty"`
	// Upstream sets how edges and shields talk to their upstreams.
	Upstream Upstream `yaml:"upstream,omitempty"`
	// DNS configures the authoritative geo-DNS and its nodes. Optional.
	DNS DNS `yaml:"dns,omitempty"`
	// TLS sets how edges get their certificates. Optional.
	TLS TLS `yaml:"tls,omitempty"`
	// Purge configures the purge API and its bus. Optional until a purge node exists.
	Purge Purge `yaml:"purge,omitempty"`
	// Admin secures every node's admin listener (token, Host names).
	// Optional.
	Admin Admin `yaml:"admin,omitempty"`
	// Fleet holds what the fleet's nodes share to trust each other.
	// Optional, but without a secret no node trusts another.
	Fleet Fleet `yaml:"fleet,omitempty"`
	// Server sets how edges serve their clients.
	Server Server `yaml:"server,omitempty"`

	// path is the file the topology was loaded from, for messages.
	path string
}

// Site is one customer property: the hostnames it answers and its origin.
type Site struct {
	// Name identifies the site in logs and metrics. Required, unique.
	Name string `yaml:"name"`
	// Hosts are the Host header values that select this site (lower case,
	// no port). Required: at least one; a host belongs to one site only.
	Hosts []string `yaml:"hosts"`
	// Origin is the base URL of the customer's origin (http or https, no
	// query). Required.
	Origin URL `yaml:"origin"`
	// Backups are more origins with the same content, tried in order when
	// Origin (and each backup before them) fails or is marked down.
	// Optional.
	Backups []URL `yaml:"backups,omitempty"`
	// HealthPath, when set, is checked on every origin (GET, 2xx = up) at
	// upstream.health's interval. Optional: origins are always checked
	// passively, by the failures of real requests.
	HealthPath string `yaml:"health_path,omitempty"`
	// KeyHeaders are request fields forwarded to the origin and added to
	// the cache key. Fields that could poison the cache (X-Forwarded-Host,
	// X-Original-URL and the like) are dropped from requests unless named
	// here. Optional.
	KeyHeaders []string `yaml:"cache_key_headers,omitempty"`
	// HostHeader is the Host sent to the origin. Default: the client's Host.
	HostHeader string `yaml:"host_header,omitempty"`
	// Cache overrides the cache policy for this site.
	Cache SiteCache `yaml:"cache,omitempty"`
	// TLSCert and TLSKey are PEM files of a certificate the site brings
	// for its hosts (reloaded when they change); without them the site's
	// hosts get certificates from tls.mode. Optional, both or neither.
	TLSCert string `yaml:"tls_cert,omitempty"`
	TLSKey  string `yaml:"tls_key,omitempty"`
	// HTTPS sets the site's HTTPS behaviour at edges that serve HTTPS.
	HTTPS SiteHTTPS `yaml:"https,omitempty"`
	// Compression serves the site's text responses compressed, at edges,
	// to clients that accept it. Optional: off unless it names codings.
	Compression SiteCompression `yaml:"compression,omitempty"`
}

// SiteCompression is how edges compress a site's responses that its
// origin sent uncompressed: each object once per coding, stored beside
// it in every tier, so hits cost no compression. Shields never compress.
type SiteCompression struct {
	// Codings are offered in order of preference among those a client
	// accepts equally: any of "br", "zstd", "gzip". Empty: off.
	Codings []string `yaml:"codings,omitempty"`
	// Types are the media types compressed, exact or "text/*".
	// Default: the edge's list (edge.DefaultCompressTypes): text/*,
	// JavaScript, JSON, XML, SVG, WASM and fonts.
	Types []string `yaml:"types,omitempty"`
	// MinSize is the smallest body compressed. Default: 1KiB.
	MinSize ByteSize `yaml:"min_size,omitempty"`
	// MaxSize is the largest body compressed. Default: 16MiB.
	MaxSize ByteSize `yaml:"max_size,omitempty"`
}

// SiteHTTPS is a site's HTTPS behaviour.
type SiteHTTPS struct {
	// Redirect answers plain-HTTP requests with a 308 to HTTPS (the
	// edge's tls_listen port). Default: false.
	Redirect bool `yaml:"redirect,omitempty"`
	// HSTS is the Strict-Transport-Security max-age sent over HTTPS; 0
	// sends none. Default: 0s.
	HSTS Duration `yaml:"hsts,omitempty"`
	// MinVersion is the lowest TLS version accepted for the site's hosts
	// over TCP: "1.2" or "1.3" (HTTP/3 is always 1.3). Default: "1.2".
	MinVersion string `yaml:"min_version,omitempty"`
}

// SiteCache is the per-site cache policy. Zero values take the defaults
// documented on each field.
type SiteCache struct {
	// DefaultTTL is the freshness given to a cacheable response that carries
	// no explicit freshness and no Last-Modified. Default: 0 (not stored
	// unless it has a validator).
	DefaultTTL Duration `yaml:"default_ttl,omitempty"`
	// HeuristicFraction is the share of (Date - Last-Modified) used as
	// heuristic freshness (RFC 9111 §4.2.2). Default: 0.1.
	HeuristicFraction float64 `yaml:"heuristic_fraction,omitempty"`
	// HeuristicMax caps heuristic freshness. Default: 24h.
	HeuristicMax Duration `yaml:"heuristic_max,omitempty"`
	// StaleWhileRevalidate applies when a response does not say (RFC 5861).
	// Default: 0s.
	StaleWhileRevalidate Duration `yaml:"stale_while_revalidate,omitempty"`
	// StaleIfError is how long past its freshness a stored response is
	// served when the upstream fails (an error status, a refused or cut
	// connection, a timeout), when the response does not say itself
	// (RFC 5861): long enough to ride out an origin outage, so content
	// that is cached keeps being served. Responses with must-revalidate,
	// proxy-revalidate, s-maxage or no-cache are never served stale. It
	// also keeps entries stored that long past their freshness.
	// Default: 6h.
	StaleIfError Duration `yaml:"stale_if_error,omitempty"`
	// SetCookie decides what happens to responses carrying Set-Cookie:
	// "pass" (never stored) or "strip" (stored with Set-Cookie removed).
	// Default: "pass".
	SetCookie string `yaml:"set_cookie,omitempty"`
	// Tier is where the site's responses are stored: "memory", "disk" or
	// "both" (memory in front of disk). Default: "both".
	Tier string `yaml:"tier,omitempty"`
	// Tiers override Tier for the paths they match; the first match wins.
	// Optional.
	Tiers []TierRule `yaml:"tiers,omitempty"`
	// IgnoreRequestDirectives ignores the clients' Cache-Control and Pragma
	// (no-cache, no-store, max-age, min-fresh, max-stale), so no client can
	// make the CDN skip its stored copy and load the origin; only
	// only-if-cached is still obeyed. When false, the directives an edge
	// honours are forwarded, so the shields honour them too.
	// Default: false.
	IgnoreRequestDirectives bool `yaml:"ignore_request_directives,omitempty"`
	// SendSurrogateKeys passes the origin's Surrogate-Key and Cache-Tag
	// fields on to clients. They are stored with every entry for tag
	// purges either way, and shields always keep them for their edges.
	// Default: false.
	SendSurrogateKeys bool `yaml:"send_surrogate_keys,omitempty"`
}

// TierRule chooses the store tier of the paths it matches (e.g. video only
// on disk, so it does not push small hot assets out of memory).
type TierRule struct {
	// Match is a path.Match pattern: with a '/', against the URL path
	// ("/video/*"); without, against the last path segment ("*.mp4").
	// Required.
	Match string `yaml:"match"`
	// Tier is "memory", "disk" or "both". Required.
	Tier string `yaml:"tier"`
}

// Datacenter is one location with its edge and shield nodes.
type Datacenter struct {
	// Name identifies the data center. Required, unique.
	Name string `yaml:"name"`
	// City is for people; it is not used for steering. Optional.
	City string `yaml:"city,omitempty"`
	// Country is the ISO 3166-1 alpha-2 code. Optional.
	Country string `yaml:"country,omitempty"`
	// Continent is a two-letter continent code (AF AN AS EU NA OC SA). Optional.
	Continent string `yaml:"continent,omitempty"`
	// Lat and Lon locate the data center for nearest-DC steering (degrees).
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
	// Edges are the client-facing cache nodes.
	Edges []Node `yaml:"edges,omitempty"`
	// Shields are the cache nodes between edges and origins.
	Shields []Node `yaml:"shields,omitempty"`
	// MinEdgesUp is how many of its edges must pass their health checks
	// (and not be drained) for geo-DNS to send clients here. Default: 1.
	MinEdgesUp int `yaml:"min_edges_up,omitempty"`
}

// Node is one edge or shield process.
type Node struct {
	// Name is the node's name for `tern run --node`. Required, unique across
	// the topology.
	Name string `yaml:"name"`
	// Listen is the plain HTTP listen address (host:port). Required.
	Listen Addr `yaml:"listen"`
	// Admin is the listen address of /metrics, /healthz and /readyz. Required.
	Admin Addr `yaml:"admin"`
	// Public are the addresses DNS hands out for this node. Default: the
	// Listen host, when it is an IP address other than 0.0.0.0 or ::.
	Public []netip.Addr `yaml:"public,omitempty"`
	// Memory overrides Cache.Memory for this node.
	Memory ByteSize `yaml:"memory,omitempty"`
	// TLSListen is the HTTPS address of an edge: TLS on TCP (HTTP/1.1 and
	// HTTP/2) and HTTP/3 on UDP, on the same port. Optional; needs tls.mode.
	TLSListen Addr `yaml:"tls_listen,omitempty"`
	// Disk overrides Cache.Disk for this node.
	Disk ByteSize `yaml:"disk,omitempty"`
	// Weight is the edge's share of its data center's DNS answers: the
	// edge listed first is chosen in proportion to it. Default: 1.
	Weight int `yaml:"weight,omitempty"`
	// Shields names the shields an edge fetches through. Default: every
	// shield of the topology, so each object has one home shield
	// fleet-wide (rendezvous hashing); an empty topology-wide list means
	// the edge goes to the origin. Only for edges.
	Shields []string `yaml:"shields,omitempty"`
}

// StaticOrigin is a built-in origin that serves files from a folder.
type StaticOrigin struct {
	// Name is the node's name for `tern run --node`. Required, unique.
	Name string `yaml:"name"`
	// Listen is the HTTP listen address. Required.
	Listen Addr `yaml:"listen"`
	// Admin is the listen address of /metrics, /healthz and /readyz. Optional.
	Admin Addr `yaml:"admin,omitempty"`
	// Root is the folder served. A relative path is taken from the working
	// directory. Required.
	Root string `yaml:"root"`
	// Rules set response headers by path pattern; the first match wins.
	Rules []OriginRule `yaml:"rules,omitempty"`
}

// OriginRule sets the caching headers of the paths it matches.
type OriginRule struct {
	// Match is a path.Match pattern against the URL path ("/img/*") or, when
	// it has no slash, against the file's base name ("*.js"). Required.
	Match string `yaml:"match"`
	// CacheControl is sent as Cache-Control. Optional.
	CacheControl string `yaml:"cache_control,omitempty"`
	// SurrogateKeys are sent space-separated as Surrogate-Key. Optional.
	SurrogateKeys []string `yaml:"surrogate_keys,omitempty"`
	// ETag controls the strong ETag (a content hash). Default: true.
	ETag *bool `yaml:"etag,omitempty"`
	// LastModified controls Last-Modified (the file's mtime). Default: true.
	LastModified *bool `yaml:"last_modified,omitempty"`
	// Headers are sent as they are. Optional.
	Headers map[string]string `yaml:"headers,omitempty"`
}

// Cache holds the cache engine limits of edge and shield nodes.
type Cache struct {
	// Memory is the memory tier's byte budget. Default: 256MiB.
	Memory ByteSize `yaml:"memory,omitempty"`
	// MaxObjectSize is the largest body stored whole. Larger ones are
	// stored as slices when the upstream answers Range requests, and
	// otherwise stream through uncached. Default: 16MiB.
	MaxObjectSize ByteSize `yaml:"max_object_size,omitempty"`
	// Disk is the disk tier's byte budget; its files live in the node's
	// folder of the data directory and survive restarts. Default: 0 (no
	// disk tier).
	Disk ByteSize `yaml:"disk,omitempty"`
	// DiskOpenFiles bounds the disk tier's body files kept open between
	// hits, so a hit does not open its file again (a file in use by a
	// hit is not counted). Default: 1024.
	DiskOpenFiles int `yaml:"disk_open_files,omitempty"`
	// DiskIndexCache bounds the memory holding a copy of the disk index
	// records hits used (decoded metadata, body file identity), so a disk
	// hit reads neither the index nor a record. It comes on top of
	// memory. Default: 32MiB.
	DiskIndexCache ByteSize `yaml:"disk_index_cache,omitempty"`
	// SliceSize is the size of the slices large objects are fetched and
	// stored in, with Range requests: a client range fetches only the
	// slices it touches. Default: 1MiB.
	SliceSize ByteSize `yaml:"slice_size,omitempty"`
}

// Server sets how edges serve their clients.
type Server struct {
	// HTTP1 is the server of an edge's plain listener: "tern" (edge/h1,
	// a strict HTTP/1.1 loop that does a third less work per request
	// than net/http) or "net" (Go's net/http). HTTPS (HTTP/1.1 and
	// HTTP/2 by ALPN), HTTP/3 and the shields' h2c listeners are served
	// by net/http and quic-go either way. Default: "tern".
	HTTP1 string `yaml:"http1,omitempty"`
}

// Upstream sets how caches fetch from their upstreams.
type Upstream struct {
	// Timeout bounds the wait for an upstream's response headers. Default: 15s.
	Timeout Duration `yaml:"timeout,omitempty"`
	// IdleTimeout closes idle upstream connections; keep it below the
	// origin's own (often 5s). Default: 4s.
	IdleTimeout Duration `yaml:"idle_timeout,omitempty"`
	// TotalTimeout bounds a whole upstream exchange, body included.
	// Default: 10m.
	TotalTimeout Duration `yaml:"total_timeout,omitempty"`
	// ConnectTimeout bounds connection set-up to an upstream. Default: 5s.
	ConnectTimeout Duration `yaml:"connect_timeout,omitempty"`
	// ShieldProtocol is how edges talk to shields: "h2c" (HTTP/2 without
	// TLS, many requests on one connection) or "http/1.1". Default: "h2c".
	ShieldProtocol string `yaml:"shield_protocol,omitempty"`
	// Health sets how shields and origins are checked.
	Health Health `yaml:"health,omitempty"`
}

// TLS sets where edge certificates come from.
type TLS struct {
	// Mode is "off", "files", "local" or "acme". "files": only sites that
	// bring certificate files (tls_cert, tls_key) are served over HTTPS.
	// "local": moreover, a certificate authority created once in the data
	// directory (<data dir>/pki/root.crt is its root, for clients to trust)
	// issues certificates for the other sites' hosts, and nothing else.
	// "acme": the other sites' hosts get certificates from an ACME CA
	// (see ACME), obtained at start-up and renewed. Default: "off".
	Mode string `yaml:"mode,omitempty"`
	// ACME configures the ACME CA for mode "acme".
	ACME ACME `yaml:"acme,omitempty"`
	// Allow0RTT accepts QUIC 0-RTT (early data) on HTTP/3: faster repeat
	// visits, but early data can be replayed, so only GET, HEAD and
	// OPTIONS are served from it (others get 425 Too Early). Default: false.
	Allow0RTT bool `yaml:"allow_0rtt,omitempty"`
}

// ACME configures certificates from an ACME CA, through certmagic. The
// HTTP-01 challenge is answered on the edges' plain listeners, TLS-ALPN-01
// on their TLS listeners; certificates and keys live in <data dir>/acme
// (a shared mount makes the edges one certmagic cluster).
type ACME struct {
	// Directory is the CA's directory URL. Default:
	// "https://acme-v02.api.letsencrypt.org/directory".
	Directory string `yaml:"directory,omitempty"`
	// Email is the account contact. Optional.
	Email string `yaml:"email,omitempty"`
	// TrustedRoots is a PEM file of roots for the CA's own HTTPS (a private
	// CA). Optional.
	TrustedRoots string `yaml:"trusted_roots,omitempty"`
	// Challenges are the challenge types offered: "http-01" and/or
	// "tls-alpn-01". Default: both.
	Challenges []string `yaml:"challenges,omitempty"`
	// EABKeyID and EABMACKeyEnv are the external account binding some CAs
	// (ZeroSSL) require: the key id, and the name of the environment
	// variable holding the base64url MAC key (never the key itself in the
	// file). Optional, both or neither.
	EABKeyID     string `yaml:"eab_key_id,omitempty"`
	EABMACKeyEnv string `yaml:"eab_mac_key_env,omitempty"`
	// OnDemand obtains a host's certificate at its first TLS handshake
	// instead of at start-up; only the site hosts of the topology qualify,
	// never an arbitrary SNI. Default: false.
	OnDemand bool `yaml:"on_demand,omitempty"`
	// RenewWindow is the share of a certificate's lifetime left when it is
	// renewed. Default: 0.33.
	RenewWindow float64 `yaml:"renew_window,omitempty"`
	// RenewCheck is how often certificates are checked for renewal.
	// Default: 10m.
	RenewCheck Duration `yaml:"renew_check,omitempty"`
}

// Health configures the checks of upstreams (shields and origins).
type Health struct {
	// Interval between active checks (a GET of a shield's /healthz on its
	// admin address, or of a site's health_path on its origins).
	// Default: 2s.
	Interval Duration `yaml:"interval,omitempty"`
	// Timeout of one active check. Default: 1s.
	Timeout Duration `yaml:"timeout,omitempty"`
	// Rise is how many checks in a row must pass to mark an upstream up.
	// Default: 2.
	Rise int `yaml:"rise,omitempty"`
	// Fall is how many checks in a row must fail to mark it down.
	// Default: 3.
	Fall int `yaml:"fall,omitempty"`
	// MaxFails is how many real requests in a row may fail before the
	// upstream is held down (passive check). Default: 3.
	MaxFails int `yaml:"max_fails,omitempty"`
	// FailBackoff is the first hold-down after MaxFails; it doubles each
	// time the probe request after it fails, up to 30s. Default: 1s.
	FailBackoff Duration `yaml:"fail_backoff,omitempty"`
}

// Fleet is what the fleet's nodes share to trust each other. Edges
// authenticate every request they send to a shield with the fleet secret;
// a shield keeps the client address, scheme and Via of authenticated
// requests only, and marks its own errors (Tern-Error) only towards them.
// The secret is given by reference, never in the file: at most one of
// SecretFile and SecretEnv. Without either, `tern run` trusts no peer and
// says so in its log; `tern demo` makes a random secret its nodes share.
type Fleet struct {
	// SecretFile is a file whose content (surrounding white space
	// trimmed) is the secret. A relative path is in the data directory,
	// where a random secret is created if there is none, so the nodes run
	// on one data directory share it. Optional.
	SecretFile string `yaml:"secret_file,omitempty"`
	// SecretEnv names the environment variable holding the secret.
	// Optional.
	SecretEnv string `yaml:"secret_env,omitempty"`
}
