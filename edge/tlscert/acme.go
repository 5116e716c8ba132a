package tlscert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/caddyserver/certmagic"
	acmeproto "github.com/mholt/acmez/v3/acme"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// ACME obtains and renews certificates for configured hosts from an ACME
// CA through a certmagic instance (never its package globals). HTTP-01 is
// answered by the edge's plain listener (HTTPHandler), TLS-ALPN-01 by its
// TLS listener (GetCertificate with acme-tls/1 offered).
type ACME struct {
	cache  *certmagic.Cache
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	hosts  []string
	// onDemand defers each certificate to its host's first handshake.
	onDemand bool
}

// newACME prepares certificates for hosts; Manage starts obtaining them.
// httpPort and tlsPort are the edge's plain and TLS ports: certmagic
// finds them in use and leaves the challenges to the edge's listeners.
func newACME(cfg ACMEConfig, dataDir string, hosts []string, httpPort, tlsPort int, events *prometheus.CounterVec, log *zap.Logger) (*ACME, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("ACME needs a data directory")
	}
	var roots *x509.CertPool
	if cfg.TrustedRoots != "" {
		pem, err := os.ReadFile(cfg.TrustedRoots)
		if err != nil {
			return nil, fmt.Errorf("acme trusted roots: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme trusted roots %s: no certificate in it", cfg.TrustedRoots)
		}
	}
	a := &ACME{hosts: hosts, onDemand: cfg.OnDemand}
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		RenewCheckInterval: cfg.RenewCheck,
		Logger:             log,
	})
	a.magic = certmagic.New(a.cache, certmagic.Config{
		Storage:            &certmagic.FileStorage{Path: filepath.Join(dataDir, "acme")},
		RenewalWindowRatio: cfg.RenewWindow,
		Logger:             log,
		// Obtained, renewed and failed certificates are counted, so a CA
		// that stops answering shows in the metrics before anything expires.
		OnEvent: func(_ context.Context, event string, _ map[string]any) error {
			switch event {
			case "cert_obtaining", "cert_obtained", "cert_failed", "cert_ocsp_revoked":
				events.WithLabelValues(event).Inc()
			}
			return nil
		},
	})
	if cfg.OnDemand {
		allowed := map[string]bool{}
		for _, h := range hosts {
			allowed[normalizeHost(h)] = true
		}
		a.magic.OnDemand = &certmagic.OnDemandConfig{
			// Never an arbitrary SNI: anyone could make the edge order
			// certificates (and spend the CA's rate limits) otherwise.
			DecisionFunc: func(_ context.Context, name string) error {
				if !allowed[normalizeHost(name)] {
					return fmt.Errorf("%q is not a configured host", name)
				}
				return nil
			},
		}
	}
	var eab *acmeproto.EAB
	if cfg.EABKeyID != "" {
		mac := os.Getenv(cfg.EABMACKeyEnv)
		if mac == "" {
			return nil, fmt.Errorf("acme: environment variable %s (the EAB MAC key) is empty", cfg.EABMACKeyEnv)
		}
		eab = &acmeproto.EAB{KeyID: cfg.EABKeyID, MACKey: mac}
	}
	a.issuer = certmagic.NewACMEIssuer(a.magic, certmagic.ACMEIssuer{
		ExternalAccount:         eab,
		CA:                      cfg.Directory,
		TestCA:                  cfg.Directory,
		Email:                   cfg.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		AltHTTPPort:             httpPort,
		AltTLSALPNPort:          tlsPort,
		Logger:                  log,
		DisableHTTPChallenge:    len(cfg.Challenges) > 0 && !slices.Contains(cfg.Challenges, "http-01"),
		DisableTLSALPNChallenge: len(cfg.Challenges) > 0 && !slices.Contains(cfg.Challenges, "tls-alpn-01"),
	})
	a.magic.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

// Manage obtains (or loads) the hosts' certificates in the background and
// keeps them renewed until Stop.
func (a *ACME) Manage(ctx context.Context) error {
	if a.onDemand {
		return nil
	}
	return a.magic.ManageAsync(ctx, a.hosts)
}

// HTTPHandler answers HTTP-01 challenges before next sees the request.
func (a *ACME) HTTPHandler(next http.Handler) http.Handler {
	return a.issuer.HTTPChallengeHandler(next)
}

// GetCertificate serves managed certificates and TLS-ALPN-01 challenges;
// certmagic refuses names it does not manage (no on-demand issuance).
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.magic.GetCertificate(hello)
}

// expiry is when the managed certificate for host expires (Unix time), 0
// if none is loaded. It reads the cache only: a scrape never orders one.
func (a *ACME) expiry(host string) float64 {
	var end float64
	for _, c := range a.cache.AllMatchingCertificates(host) {
		if c.Leaf != nil && (end == 0 || float64(c.Leaf.NotAfter.Unix()) < end) {
			end = float64(c.Leaf.NotAfter.Unix())
		}
	}
	return end
}

// Stop ends renewals.
func (a *ACME) Stop() { a.cache.Stop() }
