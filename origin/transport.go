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
	return &http.Transport{
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
	}
}
