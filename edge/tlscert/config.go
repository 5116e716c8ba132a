package tlscert

import (
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Modes of the certificates of the hosts no site brings files for; any
// other mode ("off", "files") serves only the sites' own files.
const (
	// ModeLocal issues certificates from a local CA kept in
	// <DataDir>/pki, shared by every node using that directory.
	ModeLocal = "local"
	// ModeACME obtains and renews them from an ACME CA, kept in
	// <DataDir>/acme.
	ModeACME = "acme"
)

// Config is an edge's certificates.
type Config struct {
	// Sites are the hosts an edge serves, with their certificate files.
	Sites []Site
	// Mode is how hosts without files get certificates: ModeLocal,
	// ModeACME, or none.
	Mode string
	// ACME configures ModeACME.
	ACME ACMEConfig
	// DataDir holds the local CA and the ACME storage.
	DataDir string
	// HTTPPort and TLSPort are the edge's plain and TLS ports, where ACME
	// challenges are answered.
	HTTPPort, TLSPort int
	// Registerer receives the certificates' metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives certificate reloads and failures; nil discards them.
	Logger *slog.Logger
}

// Site is one site's hosts and, when it brings its own, its certificate
// and key files (PEM), reloaded when they change.
type Site struct {
	Name              string
	Hosts             []string
	CertFile, KeyFile string
}

// ACMEConfig is the ACME CA and account (the topology's tls.acme).
type ACMEConfig struct {
	// Directory is the CA's directory URL.
	Directory string
	// Email is the account contact. Optional.
	Email string
	// TrustedRoots is a PEM file of roots for the CA's own HTTPS. Optional.
	TrustedRoots string
	// Challenges are the challenge types offered ("http-01",
	// "tls-alpn-01"); empty offers both.
	Challenges []string
	// EABKeyID and EABMACKeyEnv are the external account binding: the key
	// id, and the environment variable holding the MAC key.
	EABKeyID, EABMACKeyEnv string
	// OnDemand obtains a host's certificate at its first handshake.
	OnDemand bool
	// RenewWindow is the share of a lifetime left when it is renewed.
	RenewWindow float64
	// RenewCheck is how often certificates are checked for renewal.
	RenewCheck time.Duration
}

// normalizeHost is a host name as certificates are looked up by: lower
// case, without a final dot. SNI carries no port.
func normalizeHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(h, "."))
}
