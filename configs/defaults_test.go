package configs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	topo, err := Parse("d.yaml", []byte(minimal+`    shields:
      - {name: any, listen: "0.0.0.0:81", admin: "127.0.0.1:82"}
      - {name: lh, listen: "localhost:83", admin: "127.0.0.1:84"}
      - {name: set, listen: "127.0.0.1:85", admin: "127.0.0.1:86", public: [192.0.2.7]}
origins:
  - name: o
    listen: 127.0.0.1:9000
    root: site
    rules:
      - match: "*"
      - {match: "*.x", etag: false, last_modified: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := topo.Sites[0].Cache
	if c.HeuristicFraction != 0.1 || c.HeuristicMax.D() != 24*time.Hour || c.SetCookie != "pass" ||
		c.DefaultTTL != 0 || c.StaleWhileRevalidate != 0 || c.StaleIfError.D() != 6*time.Hour {
		t.Errorf("site cache = %+v", c)
	}
	if topo.Cache.Memory != 256*MiB || topo.Cache.MaxObjectSize != 16*MiB ||
		topo.Cache.DiskOpenFiles != 1024 || topo.Cache.DiskIndexCache != 32*MiB {
		t.Errorf("cache = %+v", topo.Cache)
	}
	if topo.Upstream.Timeout.D() != 15*time.Second || topo.Upstream.IdleTimeout.D() != 4*time.Second {
		t.Errorf("upstream = %+v", topo.Upstream)
	}
	if topo.DNS.TTL.D() != 30*time.Second {
		t.Errorf("dns = %+v", topo.DNS)
	}
	publics := map[string][]netip.Addr{
		"e":   {netip.MustParseAddr("127.0.0.1")},
		"any": nil, // 0.0.0.0 is no address to hand out
		"lh":  nil, // nor is a name
		"set": {netip.MustParseAddr("192.0.2.7")},
	}
	for name, want := range publics {
		n, _ := topo.Lookup(name)
		if !slices.Equal(n.Node.Public, want) {
			t.Errorf("%s: Public = %v, want %v", name, n.Node.Public, want)
		}
	}
	r := topo.Origins[0].Rules
	if !*r[0].ETag || !*r[0].LastModified || *r[1].ETag || *r[1].LastModified {
		t.Errorf("rules etag/last_modified = %v %v, %v %v", *r[0].ETag, *r[0].LastModified, *r[1].ETag, *r[1].LastModified)
	}

	// Explicit values stay.
	topo.Sites[0].Cache.HeuristicFraction = 0.5
	topo.ApplyDefaults()
	if topo.Sites[0].Cache.HeuristicFraction != 0.5 {
		t.Error("ApplyDefaults overwrote a value")
	}
}

// computedDefaults are the fields whose documented default is not a value
// (it is computed, or decided at run time); TestDefaults covers them.
var computedDefaults = []string{"Site.HostHeader", "Node.Public", "Node.Shields", "ACME.Challenges",
	"DNS.DefaultOrder", "SOA.MName", "SOA.RName", "GeoName.TTL", "GeoName.Datacenters",
	"SiteCompression.Types"}

// TestDefaultsMatchDocs reads topology.go and checks that every field doc
// saying "Default: V" gets V from ApplyDefaults, so that the doc comments,
// which are the documentation, stay true.
func TestDefaultsMatchDocs(t *testing.T) {
	var files []*ast.File
	for _, name := range []string{"topology.go", "dns.go", "admin.go", "purge.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// A zero topology with one of each struct, defaulted.
	topo := &Topology{
		Sites:       []Site{{}},
		Datacenters: []Datacenter{{Edges: []Node{{}}}},
		Origins:     []StaticOrigin{{Rules: []OriginRule{{}}}},
		DNS: DNS{Nodes: []DNSNode{{}}, Zones: []Zone{{NS: []NameServer{{}}, Geo: []GeoName{{}}}},
			Networks: []GeoNetwork{{}}, Pins: []Pin{{}}},
	}
	topo.ApplyDefaults()
	values := map[string]reflect.Value{}
	var collect func(v reflect.Value)
	collect = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			if _, ok := values[v.Type().Name()]; ok || v.Type().PkgPath() != reflect.TypeFor[Topology]().PkgPath() {
				return
			}
			values[v.Type().Name()] = v
			for i := range v.NumField() {
				collect(v.Field(i))
			}
		case reflect.Slice:
			for i := range v.Len() {
				collect(v.Index(i))
			}
		}
	}
	collect(reflect.ValueOf(topo).Elem())

	defaultRe := regexp.MustCompile(`Default: ("[^"]*"|true|false|[0-9]+(?:\.[0-9]+)?[A-Za-z]*)`)
	checked := 0
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, field := range st.Fields.List {
				doc := strings.Join(strings.Fields(field.Doc.Text()), " ")
				if !strings.Contains(doc, "Default:") {
					continue
				}
				for _, name := range field.Names {
					id := ts.Name.Name + "." + name.Name
					m := defaultRe.FindStringSubmatch(doc)
					if m == nil {
						if !slices.Contains(computedDefaults, id) {
							t.Errorf("%s: cannot read the default in %q; write a value or list it in computedDefaults", id, doc)
						}
						continue
					}
					sv, ok := values[ts.Name.Name]
					if !ok {
						t.Fatalf("no sample value of %s", ts.Name.Name)
					}
					checked++
					if err := sameValue(sv.FieldByName(name.Name), m[1]); err != "" {
						t.Errorf("%s: doc says Default: %s, ApplyDefaults %s", id, m[1], err)
					}
				}
			}
			return false
		})
	}
	if checked < 10 {
		t.Errorf("checked %d documented defaults, want at least 10", checked)
	}
}

// sameValue compares a field's value with a documented default; it returns
// what differs, or "".
func sameValue(v reflect.Value, doc string) string {
	var want any
	var err error
	switch v.Interface().(type) {
	case ByteSize:
		want, err = ParseByteSize(doc)
	case Duration:
		want, err = ParseDuration(doc)
	case float64:
		want, err = strconv.ParseFloat(doc, 64)
	case int:
		want, err = strconv.Atoi(doc)
	case uint32:
		var n uint64
		n, err = strconv.ParseUint(doc, 10, 32)
		want = uint32(n)
	case string:
		want, err = strconv.Unquote(doc)
	case *bool:
		var b bool
		b, err = strconv.ParseBool(doc)
		if err == nil && !v.IsNil() {
			return sameValue(v.Elem(), doc)
		}
		want = &b
	case bool:
		want, err = strconv.ParseBool(doc)
	default:
		return "has a field type the test does not know: " + v.Type().String()
	}
	if err != nil {
		return "cannot be compared: " + err.Error()
	}
	if !reflect.DeepEqual(v.Interface(), want) {
		return fmt.Sprintf("sets %v", v.Interface())
	}
	return ""
}
