package origin

import (
	"net"
	"net/http"
	"time"
)

// TransportConfig tunes upstream connections. Zero values take the
// defaults noted.
type TransportConfig struct {
	// IdleTimeout closes idle connections. Origins commonly close theirs
	// after 5s; a request sent on a connection the origin is closing fails,
	// so ours must close first. Default: 4s.
	IdleTimeout time.Duration
	// DialTimeout bounds connection set-up. Default: 5s.
	DialTimeout time.Duration
	// MaxIdlePerHost is how many idle connections are kept per upstream.
	// Default: 256.
	MaxIdlePerHost int
	// ResponseHeaderTimeout bounds the wait for an upstream's response
	// headers once the request is written; a Router then fails over to the
	// next upstream instead of spending the whole request's deadline on a
	// hung one. Zero: no limit beyond the request's context.
	ResponseHeaderTimeout time.Duration
	// H2C speaks HTTP/2 with prior knowledge (no TLS, no upgrade) to
	// http:// upstreams, which must serve unencrypted HTTP/2 (net/http
	// allows only that combination with HTTP/1 off). https:// upstreams
	// must then speak h2 too (ALPN), so give shields such a transport and
	// origins a separate default one. Default false: HTTP/1.1 only.
	H2C bool
	// PingTimeout, with H2C, checks a connection that has received nothing
	// for this long with a PING and closes it if the answer takes longer:
	// the requests on a dead or hung connection then fail (and the Router
	// moves on) without a per-request deadline that would also cut off an
	// upstream that is merely waiting for a slow origin. Zero: no pings.
	PingTimeout time.Duration
}

// NewTransport returns the transport for upstream requests.
//
// Retries: net/http's Transport already resends a request that failed on
// a reused connection before any byte of it was written (for every method,
// when the body can be replayed) and an idempotent request whose reused
// connection was closed under it. Both go out on a fresh connection,
// which is the retry policy a cache wants; nothing more is layered here.
func NewTransport(cfg TransportConfig) *http.Transport {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 4 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.MaxIdlePerHost <= 0 {
		cfg.MaxIdlePerHost = 256
	}
	t := &http.Transport{
		// Never a proxy from the environment: upstreams are the topology's.
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   cfg.DialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        4 * cfg.MaxIdlePerHost,
		MaxIdleConnsPerHost: cfg.MaxIdlePerHost,
		IdleConnTimeout:     cfg.IdleTimeout,
		// The cache keeps bodies exactly as the upstream encoded them and
		// keys them by the Accept-Encoding it sent; the transport must not
		// add gzip and decode behind its back.
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
	}
	if cfg.H2C {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		p.SetHTTP2(true)
		t.Protocols = &p
		if cfg.PingTimeout > 0 {
			t.HTTP2 = &http.HTTP2Config{SendPingTimeout: cfg.PingTimeout, PingTimeout: cfg.PingTimeout}
		}
	}
	return t
}

// Split sends requests for the given hosts (host:port of shields) through
// one transport and everything else through another: edges speak h2c to
// shields and HTTP/1.1 to origins, through one Router.
type Split struct {
	hosts    map[string]bool
	matched  http.RoundTripper
	fallback http.RoundTripper
}

// NewSplit returns a Split sending hosts through matched and the rest
// through fallback.
func NewSplit(hosts []string, matched, fallback http.RoundTripper) *Split {
	s := &Split{hosts: make(map[string]bool, len(hosts)), matched: matched, fallback: fallback}
	for _, h := range hosts {
		s.hosts[h] = true
	}
	return s
}

// RoundTrip sends req through the transport for its URL's host.
func (s *Split) RoundTrip(req *http.Request) (*http.Response, error) {
	if s.hosts[req.URL.Host] {
		return s.matched.RoundTrip(req)
	}
	// What an edge tells its shields (the purge it applied) is not for
	// an origin it falls back to.
	if _, ok := req.Header[PurgeSeqHeader]; ok {
		out := *req
		out.Header = req.Header.Clone()
		delete(out.Header, PurgeSeqHeader)
		req = &out
	}
	return s.fallback.RoundTrip(req)
}
