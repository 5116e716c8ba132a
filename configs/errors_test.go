package configs

import (
	"errors"
	"strings"
	"testing"
)

// want is one expected problem: its line, field path and a part of its
// message.
type want struct {
	line  int
	field string
	msg   string
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []want
	}{
		{"unknown field at depth", `sites:
  - name: s
    hosts: [a.test]
    origin: http://127.0.0.1:9000
datacenters:
  - name: d
    edges:
      - name: e
        listen: 127.0.0.1:8080
        admin: 127.0.0.1:9100
        lsten: 127.0.0.1:8081
`, []want{{11, "datacenters[0].edges[0].lsten", "unknown field (want one of: admin, disk, listen, memory, name, public, shields, tls_listen, weight)"}}},

		{"unknown top-level field", "dns_zones: [x]\n" + minimal,
			[]want{{1, "dns_zones", "unknown field"}}},

		{"bad duration", minimal + "upstream:\n  timeout: 5 seconds\n",
			[]want{{12, "upstream.timeout", `invalid duration "5 seconds"`}}},

		{"two fleet secrets", minimal + "fleet:\n  secret_file: /run/secrets/tern\n  secret_env: TERN_FLEET_SECRET\n",
			[]want{{12, "fleet.secret_file", "secret_file and secret_env exclude each other"}}},

		{"negative duration", minimal + "dns:\n  ttl: -30s\n",
			[]want{{12, "dns.ttl", `duration "-30s" is negative`}}},

		{"bad byte size", minimal + "cache:\n  memory: 256MB2\n",
			[]want{{12, "cache.memory", `invalid byte size "256MB2"`}}},

		{"negative open files", minimal + "cache:\n  disk_open_files: -1\n",
			[]want{{12, "cache.disk_open_files", "-1 is negative"}}},

		{"bad listen port", `sites:
  - name: s
    hosts: [a.test]
    origin: http://127.0.0.1:9000
datacenters:
  - name: d
    edges:
      - name: e
        listen: 127.0.0.1:8080
        admin: 127.0.0.1:9100
      - name: f
        listen: 127.0.0.1:80a
        admin: 127.0.0.1:9101
`, []want{{12, "datacenters[0].edges[1].listen", `port "80a" is not a number`}}},

		{"bad URL scheme", strings.Replace(minimal, "http://", "ftp://", 1),
			[]want{{4, "sites[0].origin", "scheme must be http or https"}}},

		{"bad public IP", minimal + "        public: [192.0.2.1, 10.0.0.300]\n",
			[]want{{11, "datacenters[0].edges[0].public[1]", `invalid IP address "10.0.0.300"`}}},

		{"missing required name", strings.Replace(minimal, "      - name: e\n        listen", "      - listen", 1),
			[]want{{8, "datacenters[0].edges[0].name", "required field is missing"}}},

		{"duplicate node name", minimal + "origins:\n  - name: e\n    listen: 127.0.0.1:9000\n    root: site\n",
			[]want{{12, "origins[0].name", `node name "e" is already used by datacenters[0].edges[0]`}}},

		{"duplicate host across sites", `sites:
  - name: s
    hosts: [a.test, b.test]
    origin: http://127.0.0.1:9000
  - name: t
    hosts:
      - c.test
      - b.test
    origin: http://127.0.0.1:9000
datacenters:
  - name: d
    edges:
      - name: e
        listen: 127.0.0.1:8080
        admin: 127.0.0.1:9100
`, []want{{8, "sites[1].hosts[1]", `host "b.test" is already listed at sites[0].hosts[1]`}}},

		{"duplicate listen address", minimal + `    shields:
      - name: sh
        listen: 127.0.0.1:9100
        admin: 0.0.0.0:8080
`, []want{
			{13, "datacenters[0].shields[0].listen", "address 127.0.0.1:9100 is already used by datacenters[0].edges[0].admin"},
			{14, "datacenters[0].shields[0].admin", "address 0.0.0.0:8080 is already used by datacenters[0].edges[0].listen"},
		}},

		{"compression coding unknown", strings.Replace(minimal, "    origin: http://127.0.0.1:9000\n",
			"    origin: http://127.0.0.1:9000\n    compression:\n      codings: [br, deflate]\n", 1),
			[]want{{6, "sites[0].compression.codings[1]", `"deflate" is not one of "br", "zstd", "gzip"`}}},
		{"compression type invalid", strings.Replace(minimal, "    origin: http://127.0.0.1:9000\n",
			"    origin: http://127.0.0.1:9000\n    compression:\n      codings: [br]\n      types: [javascript]\n", 1),
			[]want{{7, "sites[0].compression.types[0]", `"javascript" is not a media type (type/subtype or type/*)`}}},
		{"set_cookie invalid", strings.Replace(minimal, "    origin: http://127.0.0.1:9000\n",
			"    origin: http://127.0.0.1:9000\n    cache:\n      set_cookie: keep\n", 1),
			[]want{{6, "sites[0].cache.set_cookie", `"keep" is not one of "pass", "strip"`}}},

		{"multiple validation errors together", `sites:
  - name: s
    hosts: [A.test, a.test:80]
    origin: http://127.0.0.1:9000/?q
    cache: {heuristic_fraction: 1.5}
datacenters:
  - name: d
    continent: XX
    lat: 91
    lon: -181
    edges:
      - name: e
        listen: 127.0.0.1:8080
        admin: 127.0.0.1:9100
origins:
  - name: o
    listen: 127.0.0.1:9000
    rules:
      - match: "[a-"
cache: {memory: 1MiB, max_object_size: 2MiB}
`, []want{
			{3, "sites[0].hosts[0]", `host "A.test" must be lower case`},
			{3, "sites[0].hosts[1]", `host "a.test:80" must not have a port`},
			{4, "sites[0].origin", "must not have a query"},
			{5, "sites[0].cache.heuristic_fraction", "1.5 is outside [0, 1]"},
			{8, "datacenters[0].continent", `"XX" is not one of AF, AN, AS, EU, NA, OC, SA`},
			{9, "datacenters[0].lat", "latitude 91 is outside [-90, 90]"},
			{10, "datacenters[0].lon", "longitude -181 is outside [-180, 180]"},
			{16, "origins[0].root", "required field is missing"},
			{19, "origins[0].rules[0].match", `"[a-" is not a valid path.Match pattern`},
			{20, "cache.max_object_size", "2MiB is larger than cache.memory (1MiB)"},
		}},

		{"multiple decoding errors together", `sites:
  - name: s
    hosts: [a.test]
    origin: http://127.0.0.1:9000
datacenters:
  - name: d
    lat: north
    edges:
      - {name: e, listen: "127.0.0.1:x", admin: localhost:1, public: [1.2.3]}
      - {name: f, listen: 127.0.0.1:1, admin: 127.0.0.1:2, memory: {a: 1}}
upstream: {timeout: 1x, idle_timeout: 1s, retries: 3}
`, []want{
			{7, "datacenters[0].lat", `want a number, got "north"`},
			{9, "datacenters[0].edges[0].listen", `port "x" is not a number`},
			{9, "datacenters[0].edges[0].public[0]", `invalid IP address "1.2.3": IPv4 address too short`},
			{10, "datacenters[0].edges[1].memory", "want a byte size, got a mapping"},
			{11, "upstream.timeout", `invalid duration "1x"`},
			{11, "upstream.retries", "unknown field"},
		}},

		{"wrong kind", strings.Replace(minimal, "hosts: [a.test]", "hosts: a.test", 1),
			[]want{{3, "sites[0].hosts", `want a list, got "a.test"`}}},

		{"duplicate key", strings.Replace(minimal, "  - name: d\n", "  - name: d\n    name: d2\n", 1),
			[]want{{7, "datacenters[0].name", "duplicate key, first at line 6"}}},

		{"missing sections", "cache: {memory: 1GiB}\n", []want{
			{1, "sites", "at least one site is required"},
			{1, "datacenters", "at least one datacenter is required"},
		}},

		{"no edges", strings.Replace(minimal, "    edges:", "    shields:", 1),
			[]want{{5, "datacenters", "at least one edge is required"}}},

		{"empty file", "", []want{{1, "", "file is empty"}}},
		{"only comments", "# nothing\n", []want{{1, "", "file is empty"}}},
		{"null document", "---\n~\n", []want{{1, "", "file is empty"}}},
		{"not a mapping", "- sites\n", []want{{1, "", `want a mapping of topology fields, got a list`}}},
		{"two documents", minimal + "---\nsites: []\n", []want{{12, "", "a second YAML document"}}},
		{"syntax error", "sites:\n  - name: s\n   hosts: [a\n", []want{{2, "", "invalid YAML: did not find expected '-' indicator (in what starts on this line)"}}},
		{"unclosed flow list", "sites: []\ndatacenters: [1,\n", []want{{3, "", "invalid YAML: did not find expected node content"}}},
		{"scanner error", "sites: []\ndatacenters: \"x\n", []want{{2, "", "invalid YAML: found unexpected end of stream"}}},
		{"tabs", "sites:\n\t- name: s\n", []want{{2, "", "invalid YAML"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParseErrors(t, "configs/test.yaml", tt.yaml, tt.want)
		})
	}
}

// checkParseErrors parses doc as file and checks that it fails with
// exactly the errors wanted, in order.
func checkParseErrors(t *testing.T, file, doc string, wants []want) {
	t.Helper()
	_, err := Parse(file, []byte(doc))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse error = %T %v, want an ErrorList", err, err)
	}
	if len(list) != len(wants) {
		t.Fatalf("got %d errors, want %d:\n%v", len(list), len(wants), err)
	}
	for i, w := range wants {
		e := list[i]
		if e.File != file || e.Line != w.line || e.Field != w.field || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("error %d = %q\nwant %s:%d: %s: ...%s...", i, e, file, w.line, w.field, w.msg)
		}
	}
}

// TestValidateWithoutLines checks Validate on a Topology built in Go: the
// errors name the field, not a line.
func TestValidateWithoutLines(t *testing.T) {
	topo := &Topology{}
	topo.ApplyDefaults()
	err := topo.Validate()
	want := "sites: at least one site is required\ndatacenters: at least one datacenter is required"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
}
