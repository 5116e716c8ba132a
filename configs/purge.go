package configs

import (
	"fmt"
	"net/url"
	"time"
)

// Purge configures the purge API (served by the purge node) and the bus,
// the NATS JetStream stream every edge and shield consumes purges from.
type Purge struct {
	// Name is the purge node's name for `tern run --node`. Required with
	// listen; unique across the topology.
	Name string `yaml:"name,omitempty"`
	// Listen is the purge API's address. Optional until a purge node exists.
	Listen Addr `yaml:"listen,omitempty"`
	// Admin is the purge node's /metrics, /healthz and /readyz address.
	// Optional.
	Admin Addr `yaml:"admin,omitempty"`
	// TokenEnv names the environment variable holding the API's tokens,
	// lines of "<token> <site>[,<site>...]" separated by newlines or ';'
	// (a token may be given as sha256:<hex>); tokens are never written in
	// the topology. Optional, not with tokens_file.
	TokenEnv string `yaml:"token_env,omitempty"`
	// TokensFile is a file of such lines. A relative path is taken from
	// the data directory. Optional, not with token_env.
	TokensFile string `yaml:"tokens_file,omitempty"`
	// Bus is the message bus carrying purges to every node.
	Bus PurgeBus `yaml:"bus,omitempty"`
	// MaxAge is how long the stream keeps purges: a node away longer
	// treats everything it stored as stale when it returns. Default: 24h.
	MaxAge Duration `yaml:"max_age,omitempty"`
	// Duplicates is how long a repeated Idempotency-Key is one purge; at
	// most max_age. Default: 2m.
	Duplicates Duration `yaml:"duplicates,omitempty"`
	// MaxEntries is the most URLs, prefixes, tags and hosts one call may
	// carry (413 above). Default: 100.
	MaxEntries int `yaml:"max_entries,omitempty"`
	// MaxBody is the largest request body accepted (413 above).
	// Default: 64KiB.
	MaxBody ByteSize `yaml:"max_body,omitempty"`
	// Rate is the calls per second each token may make (429 above).
	// Default: 10.
	Rate int `yaml:"rate,omitempty"`
	// Burst is how many calls a token may make at once. Default: 20.
	Burst int `yaml:"burst,omitempty"`
}

// PurgeBus is the NATS JetStream bus: embedded in the purge node, or an
// external NATS cluster that every node connects to.
type PurgeBus struct {
	// Mode is "embedded" (the purge node runs a NATS server with
	// JetStream on its data directory) or "external" (urls).
	// Default: "embedded".
	Mode string `yaml:"mode,omitempty"`
	// Listen is the embedded server's client address, which edges and
	// shields in other processes connect to. Optional: without it only
	// nodes in the purge node's process can use the bus.
	Listen Addr `yaml:"listen,omitempty"`
	// Dir is the embedded server's store, under the data directory.
	// Default: "nats".
	Dir string `yaml:"dir,omitempty"`
	// URLs are the external cluster's servers (nats:// or tls://).
	// Required with mode "external".
	URLs []string `yaml:"urls,omitempty"`
	// CAFile, CertFile and KeyFile are PEM files for TLS to the servers:
	// the CA that signed them, and a client certificate (both or
	// neither). Optional.
	CAFile   string `yaml:"ca_file,omitempty"`
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
	// CredsFile is a NATS credentials file (user JWT and NKey seed).
	// Optional.
	CredsFile string `yaml:"creds_file,omitempty"`
	// Replicas of the stream and the status bucket: 1, or 3 (or 5) in a
	// NATS cluster. Default: 1.
	Replicas int `yaml:"replicas,omitempty"`
}

const (
	defaultPurgeMaxAge     = Duration(24 * time.Hour)
	defaultPurgeDuplicates = Duration(2 * time.Minute)
	defaultPurgeMaxEntries = 100
	defaultPurgeMaxBody    = 64 * KiB
	defaultPurgeRate       = 10
	defaultPurgeBurst      = 20
	defaultPurgeBusMode    = "embedded"
	defaultPurgeBusDir     = "nats"
)

func (p *Purge) applyDefaults() {
	orDefault(&p.MaxAge, defaultPurgeMaxAge)
	orDefault(&p.Duplicates, defaultPurgeDuplicates)
	orDefault(&p.MaxEntries, defaultPurgeMaxEntries)
	orDefault(&p.MaxBody, defaultPurgeMaxBody)
	orDefault(&p.Rate, defaultPurgeRate)
	orDefault(&p.Burst, defaultPurgeBurst)
	orDefault(&p.Bus.Mode, defaultPurgeBusMode)
	orDefault(&p.Bus.Dir, defaultPurgeBusDir)
	orDefault(&p.Bus.Replicas, 1)
}

func (v *validator) purge(p *Purge) {
	v.listen("purge.listen", p.Listen, false)
	v.listen("purge.admin", p.Admin, false)
	if !p.Listen.IsZero() {
		v.unique("purge", p.Name, "node")
	}
	if p.TokenEnv != "" && p.TokensFile != "" {
		v.errs.add("purge.tokens_file", "give token_env or tokens_file, not both")
	}
	if p.Duplicates > p.MaxAge {
		v.errs.add("purge.duplicates", "%s is longer than max_age (%s)", p.Duplicates, p.MaxAge)
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"max_entries", p.MaxEntries}, {"rate", p.Rate}, {"burst", p.Burst}} {
		if f.n < 1 || f.n > 100000 {
			v.errs.add("purge."+f.name, "%d is outside [1, 100000]", f.n)
		}
	}
	if p.MaxBody < 1*KiB || p.MaxBody > 16*MiB {
		v.errs.add("purge.max_body", "%s is outside [1KiB, 16MiB]", p.MaxBody)
	}
	v.purgeBus(&p.Bus)
}

func (v *validator) purgeBus(b *PurgeBus) {
	switch b.Mode {
	case "embedded":
		v.listen("purge.bus.listen", b.Listen, false)
		if len(b.URLs) > 0 {
			v.errs.add("purge.bus.urls", "only with mode \"external\"")
		}
	case "external":
		if len(b.URLs) == 0 {
			v.errs.add("purge.bus.urls", "mode \"external\" needs the NATS servers' URLs")
		}
		if !b.Listen.IsZero() {
			v.errs.add("purge.bus.listen", "only with mode \"embedded\"")
		}
	default:
		v.errs.add("purge.bus.mode", "%q is not one of \"embedded\", \"external\"", b.Mode)
	}
	for i, s := range b.URLs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			v.errs.add(fmt.Sprintf("purge.bus.urls[%d]", i), "%q is not a nats:// or tls:// URL", s)
		}
	}
	if (b.CertFile == "") != (b.KeyFile == "") {
		v.errs.add("purge.bus.cert_file", "cert_file and key_file go together")
	}
	if r := b.Replicas; r != 1 && r != 3 && r != 5 {
		v.errs.add("purge.bus.replicas", "%d is not 1, 3 or 5", r)
	}
}
