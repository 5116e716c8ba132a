package configs

import (
	"fmt"
	"strings"
)

// Admin secures the admin listeners of every node (/metrics, /healthz,
// /readyz, /status, and the dns nodes' drain API).
type Admin struct {
	// TokenEnv names the environment variable holding the bearer token
	// that every node's mutating admin requests (POST /drain, /undrain)
	// need. Optional, not with token_file; without any token (this,
	// token_file, dns.admin_token_env) mutating requests are refused with
	// 403, and `tern config check` and every node's start-up log say so.
	TokenEnv string `yaml:"token_env,omitempty"`
	// TokenFile is a file holding the token (white space around it is
	// ignored). A relative path is taken from the data directory
	// (--data-dir), and is created there, mode 0600, with a new random
	// token when missing: every node sharing the directory shares it, as
	// in the demo (admin-token). An absolute path must exist. Optional,
	// not with token_env.
	TokenFile string `yaml:"token_file,omitempty"`
	// Hosts are more Host names the admin listeners accept, such as the
	// DNS names a Prometheus server scrapes them by; "*.example.net"
	// accepts every name under example.net. Always accepted: localhost and
	// the IP address a request came in on. Any other Host gets 421, so a
	// web page cannot reach an admin listener by DNS rebinding. Optional.
	Hosts []string `yaml:"hosts,omitempty"`
}

func (v *validator) admin(a *Admin) {
	if a.TokenEnv != "" && a.TokenFile != "" {
		v.errs.add("admin.token_file", "give token_env or token_file, not both")
	}
	for i, h := range a.Hosts {
		if msg := checkHost(strings.TrimPrefix(h, "*.")); msg != "" {
			v.errs.add(fmt.Sprintf("admin.hosts[%d]", i), "%s", msg)
		}
	}
}

// HasAdminToken reports whether the topology configures a token for the
// admin listeners of every node: mutating admin requests are refused
// without one.
func (t *Topology) HasAdminToken() bool {
	if t.Admin.TokenEnv != "" || t.Admin.TokenFile != "" {
		return true
	}
	// dns.admin_token_env covers the dns nodes, the only ones with
	// mutating requests; the others have none to refuse.
	return t.DNS.AdminTokenEnv != ""
}
