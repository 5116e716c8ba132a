package tlscert

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
)

// Certificates chooses an edge's certificate by SNI: the files a site
// brings first, then ACME (Mode "acme") or the local CA (Mode "local").
// Any other name, or none, fails the handshake: certificates exist only
// for configured hosts.
type Certificates struct {
	files      map[string]*FileCert
	acme       *ACME
	ca         *LocalCA
	handshakes *prometheus.CounterVec
}

// New loads or prepares the certificates cfg describes and registers
// their metrics (tern_edge_tls_*, tern_edge_acme_events_total).
func New(cfg Config) (*Certificates, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dataDir := cfg.DataDir
	f := promauto.With(cfg.Registerer)
	c := &Certificates{
		files: map[string]*FileCert{},
		handshakes: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "tls_handshakes_total",
			Help: "TLS handshakes by protocol (tcp, quic) and by the certificate chosen for their SNI (files, acme, local-ca) or their refusal (unknown-name).",
		}, []string{"protocol", "result"}),
	}
	var caHosts []string
	for _, s := range cfg.Sites {
		if s.CertFile == "" {
			caHosts = append(caHosts, s.Hosts...)
			continue
		}
		fc, err := LoadFileCert(s.CertFile, s.KeyFile, log)
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", s.Name, err)
		}
		for _, h := range s.Hosts {
			c.files[normalizeHost(h)] = fc
		}
		f.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "tern", Subsystem: "edge", Name: "tls_certificate_expiry_timestamp_seconds",
			Help:        "When the site's current certificate expires (Unix time).",
			ConstLabels: prometheus.Labels{"site": s.Name},
		}, func() float64 {
			if cert := fc.Certificate(); cert.Leaf != nil {
				return float64(cert.Leaf.NotAfter.Unix())
			}
			return 0
		})
	}
	if cfg.Mode == ModeACME && len(caHosts) > 0 {
		zl, err := zap.NewProduction(zap.IncreaseLevel(zap.WarnLevel))
		if err != nil {
			return nil, err
		}
		events := f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "acme_events_total",
			Help: "ACME certificate events: cert_obtaining, cert_obtained, cert_failed, cert_ocsp_revoked.",
		}, []string{"event"})
		if c.acme, err = newACME(cfg.ACME, dataDir, caHosts, cfg.HTTPPort, cfg.TLSPort, events, zl); err != nil {
			return nil, err
		}
		for _, s := range cfg.Sites {
			if s.CertFile != "" || len(s.Hosts) == 0 {
				continue
			}
			host := s.Hosts[0]
			f.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "tern", Subsystem: "edge", Name: "tls_certificate_expiry_timestamp_seconds",
				Help:        "When the site's current certificate expires (Unix time).",
				ConstLabels: prometheus.Labels{"site": s.Name},
			}, func() float64 { return c.acme.expiry(host) })
		}
	}
	if cfg.Mode == ModeLocal && len(caHosts) > 0 {
		if dataDir == "" {
			return nil, errors.New("a local CA needs a data directory")
		}
		ca, err := OpenLocalCA(filepath.Join(dataDir, "pki"), caHosts)
		if err != nil {
			return nil, err
		}
		c.ca = ca
	}
	return c, nil
}

// GetCertificate is tls.Config.GetCertificate. A name it has no
// certificate for gets (nil, nil): crypto/tls then finds no certificate in
// the config (which must have none) and sends the alert unrecognized_name
// (RFC 6066 §3), over TCP and QUIC alike, whereas any error returned here
// would be sent as internal_error.
func (c *Certificates) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	// quic-go hands GetCertificate a stand-in connection with UDP addresses.
	proto := "tcp"
	if hello.Conn != nil {
		if _, ok := hello.Conn.RemoteAddr().(*net.UDPAddr); ok {
			proto = "quic"
		}
	}
	if fc := c.files[normalizeHost(hello.ServerName)]; fc != nil {
		c.handshakes.WithLabelValues(proto, "files").Inc()
		return fc.Certificate(), nil
	}
	if c.acme != nil {
		if cert, err := c.acme.GetCertificate(hello); err == nil && cert != nil {
			c.handshakes.WithLabelValues(proto, "acme").Inc()
			return cert, nil
		}
	}
	if c.ca != nil {
		if cert, err := c.ca.GetCertificate(hello); err == nil && cert != nil {
			c.handshakes.WithLabelValues(proto, "local-ca").Inc()
			return cert, nil
		}
	}
	c.handshakes.WithLabelValues(proto, "unknown-name").Inc()
	return nil, nil
}

// ACME is the certificates' ACME manager, nil unless Mode is "acme": the
// node starts it (Manage), stops it, and puts its HTTP-01 handler in front
// of the plain listener.
func (c *Certificates) ACME() *ACME { return c.acme }

// CARoot is the path of the local CA's root certificate, which clients
// must trust; "" without a local CA.
func (c *Certificates) CARoot() string {
	if c.ca == nil {
		return ""
	}
	return c.ca.RootPath()
}
