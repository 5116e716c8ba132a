package configs

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"path"
	"sort"
	"strings"
)

// Validate checks the rules that the field types cannot: required fields,
// unique names, hosts and listen addresses, and value ranges. It reports
// every problem, as an ErrorList whose errors name the field but not the
// line (Parse and Load add lines). Call ApplyDefaults first.
//
// Names are unique per kind: node names (edges, shields and origins
// together), datacenter names and site names.
func (t *Topology) Validate() error {
	return t.validate(nil).err(t.path)
}

const missing = "required field is missing"

// validator collects problems, and the names and addresses that must stay
// unique, to check them at the end in file order.
type validator struct {
	errs    ErrorList
	names   []nameUse
	listens []listenUse
}

type nameUse struct {
	path, kind, name string
}

type listenUse struct {
	path string
	addr Addr
}

// validate returns every problem. lineOf, when not nil, gives the line of a
// field path, so that of two uses of a name or an address the later one in
// the file is reported.
func (t *Topology) validate(lineOf func(path string) int) ErrorList {
	var v validator
	v.sites(t.Sites)
	for i := range t.Origins {
		v.origin(fmt.Sprintf("origins[%d]", i), &t.Origins[i])
	}
	v.datacenters(t.Datacenters)
	v.dns(t)
	v.purge(&t.Purge)
	v.admin(&t.Admin)
	if m := t.TLS.Mode; m != "off" && m != "files" && m != "local" && m != "acme" {
		v.errs.add("tls.mode", "%q is not one of \"off\", \"files\", \"local\", \"acme\"", m)
	}
	if t.Fleet.SecretFile != "" && t.Fleet.SecretEnv != "" {
		v.errs.add("fleet.secret_file", "secret_file and secret_env exclude each other")
	}
	if (t.TLS.ACME.EABKeyID == "") != (t.TLS.ACME.EABMACKeyEnv == "") {
		v.errs.add("tls.acme.eab_key_id", "eab_key_id and eab_mac_key_env go together")
	}
	if w := t.TLS.ACME.RenewWindow; math.IsNaN(w) || w <= 0 || w >= 1 {
		v.errs.add("tls.acme.renew_window", "%v is outside (0, 1)", w)
	}
	for i, c := range t.TLS.ACME.Challenges {
		if c != "http-01" && c != "tls-alpn-01" {
			v.errs.add(fmt.Sprintf("tls.acme.challenges[%d]", i), "%q is not one of \"http-01\", \"tls-alpn-01\"", c)
		}
	}
	if u, err := url.Parse(t.TLS.ACME.Directory); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.errs.add("tls.acme.directory", "%q is not an http(s) URL", t.TLS.ACME.Directory)
	}
	for i, dc := range t.Datacenters {
		for j, n := range dc.Edges {
			if !n.TLSListen.IsZero() && t.TLS.Mode == "off" {
				v.errs.add(fmt.Sprintf("datacenters[%d].edges[%d].tls_listen", i, j), "needs tls.mode other than \"off\"")
			}
		}
		for j, n := range dc.Shields {
			if !n.TLSListen.IsZero() {
				v.errs.add(fmt.Sprintf("datacenters[%d].shields[%d].tls_listen", i, j), "only edges serve HTTPS")
			}
		}
	}
	if s := t.Server.HTTP1; s != "tern" && s != "net" {
		v.errs.add("server.http1", "%q is not one of \"tern\", \"net\"", s)
	}
	if p := t.Upstream.ShieldProtocol; p != "h2c" && p != "http/1.1" {
		v.errs.add("upstream.shield_protocol", "%q is not one of \"h2c\", \"http/1.1\"", p)
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"rise", t.Upstream.Health.Rise}, {"fall", t.Upstream.Health.Fall}, {"max_fails", t.Upstream.Health.MaxFails}} {
		if f.n < 1 || f.n > 100 {
			v.errs.add("upstream.health."+f.name, "%d is outside [1, 100]", f.n)
		}
	}
	shields := map[string]bool{}
	for _, dc := range t.Datacenters {
		for _, n := range dc.Shields {
			shields[n.Name] = true
		}
	}
	for i, dc := range t.Datacenters {
		for j, n := range dc.Edges {
			for k, name := range n.Shields {
				if !shields[name] {
					v.errs.add(fmt.Sprintf("datacenters[%d].edges[%d].shields[%d]", i, j, k), "no shield named %q", name)
				}
			}
		}
		for j, n := range dc.Shields {
			if len(n.Shields) > 0 {
				v.errs.add(fmt.Sprintf("datacenters[%d].shields[%d].shields", i, j), "only edges name shields")
			}
		}
	}
	if t.Cache.SliceSize < 64*KiB || t.Cache.SliceSize > t.Cache.MaxObjectSize {
		v.errs.add("cache.slice_size", "%s is outside [64KiB, cache.max_object_size (%s)]", t.Cache.SliceSize, t.Cache.MaxObjectSize)
	}
	if t.Cache.DiskOpenFiles < 0 {
		v.errs.add("cache.disk_open_files", "%d is negative", t.Cache.DiskOpenFiles)
	}
	if t.Cache.MaxObjectSize > t.Cache.Memory {
		v.errs.add("cache.max_object_size", "%s is larger than cache.memory (%s)", t.Cache.MaxObjectSize, t.Cache.Memory)
	}
	v.duplicates(lineOf)
	return v.errs
}

// duplicates reports every name and listen address used a second time.
func (v *validator) duplicates(lineOf func(string) int) {
	if lineOf != nil {
		sort.SliceStable(v.names, func(i, j int) bool { return lineOf(v.names[i].path) < lineOf(v.names[j].path) })
		sort.SliceStable(v.listens, func(i, j int) bool { return lineOf(v.listens[i].path) < lineOf(v.listens[j].path) })
	}
	first := map[[2]string]string{}
	for _, u := range v.names {
		k := [2]string{u.kind, u.name}
		if prev, ok := first[k]; ok {
			v.errs.add(u.path+".name", "%s name %q is already used by %s", u.kind, u.name, prev)
		} else {
			first[k] = u.path
		}
	}
	for i, u := range v.listens {
		for _, prev := range v.listens[:i] {
			if prev.addr.Port() == u.addr.Port() && sameHost(prev.addr.Host(), u.addr.Host()) {
				v.errs.add(u.path, "address %s is already used by %s (%s)", u.addr, prev.path, prev.addr)
				break
			}
		}
	}
}

func (v *validator) sites(sites []Site) {
	if len(sites) == 0 {
		v.errs.add("sites", "at least one site is required")
	}
	hosts := map[string]string{}
	for i, s := range sites {
		p := fmt.Sprintf("sites[%d]", i)
		v.unique(p, s.Name, "site")
		if len(s.Hosts) == 0 {
			v.errs.add(p+".hosts", "at least one host is required")
		}
		for j, h := range s.Hosts {
			hp := fmt.Sprintf("%s.hosts[%d]", p, j)
			if msg := checkHost(h); msg != "" {
				v.errs.add(hp, "%s", msg)
			} else if prev, ok := hosts[h]; ok {
				v.errs.add(hp, "host %q is already listed at %s", h, prev)
			} else {
				hosts[h] = hp
			}
		}
		if s.Origin.IsZero() {
			v.errs.add(p+".origin", missing)
		} else if u := s.Origin.URL(); u.RawQuery != "" || u.ForceQuery {
			v.errs.add(p+".origin", "origin URL %q must not have a query", s.Origin)
		} else if u.Path != "" && u.Path != "/" {
			// Edges fall back from their shields to the origin directly, and
			// both must build the same path: base paths are not supported yet.
			v.errs.add(p+".origin", "origin URL %q must not have a path", s.Origin)
		}
		for j, b := range s.Backups {
			if u := b.URL(); u.RawQuery != "" || u.ForceQuery || (u.Path != "" && u.Path != "/") {
				v.errs.add(fmt.Sprintf("%s.backups[%d]", p, j), "origin URL %q must not have a path or query", b)
			}
		}
		if s.HealthPath != "" && !strings.HasPrefix(s.HealthPath, "/") {
			v.errs.add(p+".health_path", "%q must start with /", s.HealthPath)
		}
		if (s.TLSCert == "") != (s.TLSKey == "") {
			v.errs.add(p+".tls_cert", "tls_cert and tls_key go together")
		}
		if v2 := s.HTTPS.MinVersion; v2 != "" && v2 != "1.2" && v2 != "1.3" {
			v.errs.add(p+".https.min_version", "%q is not one of \"1.2\", \"1.3\"", v2)
		}
		for j, cd := range s.Compression.Codings {
			if cd != "br" && cd != "zstd" && cd != "gzip" {
				v.errs.add(fmt.Sprintf("%s.compression.codings[%d]", p, j), "%q is not one of \"br\", \"zstd\", \"gzip\"", cd)
			}
		}
		for j, t := range s.Compression.Types {
			if !strings.Contains(t, "/") {
				v.errs.add(fmt.Sprintf("%s.compression.types[%d]", p, j), "%q is not a media type (type/subtype or type/*)", t)
			}
		}
		if s.Compression.MaxSize > 0 && s.Compression.MinSize > s.Compression.MaxSize {
			v.errs.add(p+".compression.min_size", "%v is larger than max_size %v", s.Compression.MinSize, s.Compression.MaxSize)
		}
		c := s.Cache
		if math.IsNaN(c.HeuristicFraction) || c.HeuristicFraction < 0 || c.HeuristicFraction > 1 {
			v.errs.add(p+".cache.heuristic_fraction", "%v is outside [0, 1]", c.HeuristicFraction)
		}
		if c.SetCookie != "" && c.SetCookie != "pass" && c.SetCookie != "strip" {
			v.errs.add(p+".cache.set_cookie", "%q is not one of \"pass\", \"strip\"", c.SetCookie)
		}
		if c.Tier != "" && !validTier(c.Tier) {
			v.errs.add(p+".cache.tier", "%q is not one of \"memory\", \"disk\", \"both\"", c.Tier)
		}
		for j, r := range c.Tiers {
			rp := fmt.Sprintf("%s.cache.tiers[%d]", p, j)
			if r.Match == "" {
				v.errs.add(rp+".match", missing)
			} else if _, err := path.Match(r.Match, ""); err != nil {
				v.errs.add(rp+".match", "bad pattern %q: %v", r.Match, err)
			}
			if r.Tier == "" {
				v.errs.add(rp+".tier", missing)
			} else if !validTier(r.Tier) {
				v.errs.add(rp+".tier", "%q is not one of \"memory\", \"disk\", \"both\"", r.Tier)
			}
		}
	}
}

func validTier(t string) bool { return t == "memory" || t == "disk" || t == "both" }

// checkHost says what is wrong with a site host name ("" for nothing).
func checkHost(h string) string {
	switch {
	case h == "":
		return "host is empty"
	case h != strings.ToLower(h):
		return fmt.Sprintf("host %q must be lower case", h)
	case strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]"):
		if ip, err := netip.ParseAddr(h[1 : len(h)-1]); err == nil && ip.Is6() {
			return ""
		}
		return fmt.Sprintf("host %q is not a valid IPv6 literal", h)
	case strings.Contains(h, ":"):
		return fmt.Sprintf("host %q must not have a port", h)
	}
	for _, c := range h {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Sprintf("host %q is not a host name (letters, digits, '-', '.', '_')", h)
		}
	}
	return ""
}

var continents = map[string]bool{"AF": true, "AN": true, "AS": true, "EU": true, "NA": true, "OC": true, "SA": true}

func (v *validator) datacenters(dcs []Datacenter) {
	if len(dcs) == 0 {
		v.errs.add("datacenters", "at least one datacenter is required")
		return
	}
	edges := 0
	for i, dc := range dcs {
		p := fmt.Sprintf("datacenters[%d]", i)
		v.unique(p, dc.Name, "datacenter")
		if c := dc.Country; c != "" && (len(c) != 2 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
			v.errs.add(p+".country", "%q is not an ISO 3166-1 alpha-2 code (two upper-case letters)", c)
		}
		if c := dc.Continent; c != "" && !continents[c] {
			v.errs.add(p+".continent", "%q is not one of AF, AN, AS, EU, NA, OC, SA", c)
		}
		if math.IsNaN(dc.Lat) || dc.Lat < -90 || dc.Lat > 90 {
			v.errs.add(p+".lat", "latitude %v is outside [-90, 90]", dc.Lat)
		}
		if math.IsNaN(dc.Lon) || dc.Lon < -180 || dc.Lon > 180 {
			v.errs.add(p+".lon", "longitude %v is outside [-180, 180]", dc.Lon)
		}
		for j := range dc.Shields {
			v.node(fmt.Sprintf("%s.shields[%d]", p, j), &dc.Shields[j])
		}
		for j := range dc.Edges {
			v.node(fmt.Sprintf("%s.edges[%d]", p, j), &dc.Edges[j])
		}
		edges += len(dc.Edges)
	}
	if edges == 0 {
		v.errs.add("datacenters", "at least one edge is required")
	}
}

func (v *validator) node(p string, n *Node) {
	v.unique(p, n.Name, "node")
	v.listen(p+".listen", n.Listen, true)
	v.listen(p+".admin", n.Admin, true)
	for i, ip := range n.Public {
		switch {
		case !ip.IsValid():
			v.errs.add(fmt.Sprintf("%s.public[%d]", p, i), missing)
		case ip.IsUnspecified():
			v.errs.add(fmt.Sprintf("%s.public[%d]", p, i), "%s is not a public address of a node", ip)
		}
	}
}

func (v *validator) origin(p string, o *StaticOrigin) {
	v.unique(p, o.Name, "node")
	v.listen(p+".listen", o.Listen, true)
	v.listen(p+".admin", o.Admin, false)
	if o.Root == "" {
		v.errs.add(p+".root", missing)
	}
	for i, r := range o.Rules {
		rp := fmt.Sprintf("%s.rules[%d]", p, i)
		if r.Match == "" {
			v.errs.add(rp+".match", missing)
		} else if _, err := path.Match(r.Match, ""); err != nil {
			v.errs.add(rp+".match", "%q is not a valid path.Match pattern", r.Match)
		}
		for j, k := range r.SurrogateKeys {
			if k == "" || strings.ContainsAny(k, " \t\r\n") {
				v.errs.add(fmt.Sprintf("%s.surrogate_keys[%d]", rp, j), "surrogate key %q must be non-empty without spaces", k)
			}
		}
		for name := range r.Headers {
			if !isToken(name) {
				v.errs.add(rp+".headers."+name, "%q is not a valid header name", name)
			}
		}
	}
}

// unique checks a required name, and keeps it for duplicates.
func (v *validator) unique(p, name, kind string) {
	if name == "" {
		v.errs.add(p+".name", missing)
		return
	}
	v.names = append(v.names, nameUse{p, kind, name})
}

// listen checks a listen address and that no other node listens on it.
// Port 0 (any free port) never clashes; an unspecified host (empty,
// 0.0.0.0, ::) clashes with every host on the same port.
func (v *validator) listen(p string, a Addr, required bool) {
	if a.IsZero() {
		if required {
			v.errs.add(p, missing)
		}
		return
	}
	if a.Port() != 0 {
		v.listens = append(v.listens, listenUse{p, a})
	}
}

// sameHost reports whether two listen hosts can clash.
func sameHost(a, b string) bool {
	ipa, oka := listenIP(a)
	ipb, okb := listenIP(b)
	if !oka || !okb {
		return a == b
	}
	return ipa.IsUnspecified() || ipb.IsUnspecified() || ipa == ipb
}

// listenIP maps a listen host to the IP it binds: "" is unspecified,
// "localhost" is 127.0.0.1.
func listenIP(h string) (netip.Addr, bool) {
	switch h {
	case "":
		return netip.IPv4Unspecified(), true
	case "localhost":
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
	}
	ip, err := netip.ParseAddr(h)
	return ip.Unmap().WithZone(""), err == nil
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), as a header
// name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c >= 0x80 || c <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}\x7f", c) {
			return false
		}
	}
	return true
}
