package geodns

import (
	"math/big"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// testCityDB is the committed test database (see testdata/geoip/README.md).
const testCityDB = "../testdata/geoip/tern-test-city.mmdb"

var (
	frankfurt = Location{Country: "DE", Continent: "EU", Lat: 50.11, Lon: 8.68, HasCoords: true}
	ashburn   = Location{Country: "US", Continent: "NA", Lat: 39.04, Lon: -77.49, HasCoords: true}
	singapore = Location{Country: "SG", Continent: "AS", Lat: 1.35, Lon: 103.82, HasCoords: true}
)

func dc(name string) Location { return Location{Datacenter: name} }

func newLocator(t testing.TB, paths []string, overrides ...Override) *Locator {
	t.Helper()
	l, err := OpenLocator(paths, overrides)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

func override(prefix string, loc Location) Override {
	return Override{Prefix: netip.MustParsePrefix(prefix), Location: loc}
}

// row is one network of a database built by writeDB.
type row struct {
	network string
	record  mmdbtype.Map
}

// writeDB builds a MaxMind DB in t.TempDir and returns its path.
func writeDB(t testing.TB, opts mmdbwriter.Options, rows ...row) string {
	t.Helper()
	opts.IncludeReservedNetworks = true // the test ranges are all reserved
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		_, n, err := net.ParseCIDR(r.network)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, r.record); err != nil {
			t.Fatalf("insert %s: %v", r.network, err)
		}
	}
	f, err := os.CreateTemp(t.TempDir(), "*.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func country(code string) mmdbtype.Map {
	return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}
}

type locateCase struct {
	addr    string
	loc     Location
	network string
	ok      bool
}

func checkLocate(t *testing.T, l *Locator, cases []locateCase) {
	t.Helper()
	for _, c := range cases {
		loc, n, ok := l.Locate(netip.MustParseAddr(c.addr))
		if loc != c.loc || n != netip.MustParsePrefix(c.network) || ok != c.ok {
			t.Errorf("Locate(%s) = %+v, %s, %v; want %+v, %s, %v", c.addr, loc, n, ok, c.loc, c.network, c.ok)
		}
	}
}

func TestLocateTestDatabase(t *testing.T) {
	l := newLocator(t, []string{testCityDB})
	checkLocate(t, l, []locateCase{
		{"192.0.2.1", frankfurt, "192.0.2.0/24", true},
		{"198.51.100.255", ashburn, "198.51.100.0/24", true},
		{"203.0.113.7", singapore, "203.0.113.0/24", true},
		{"2001:db8:1::1", frankfurt, "2001:db8:1::/48", true},
		{"2001:db8:2:ffff::1", ashburn, "2001:db8:2::/48", true},
		{"2001:db8:3::", singapore, "2001:db8:3::/48", true},
		// Mapped addresses are unmapped: the network is IPv4.
		{"::ffff:192.0.2.1", frankfurt, "192.0.2.0/24", true},
		{"::ffff:203.0.113.200", singapore, "203.0.113.0/24", true},
		{"2001:db8:1::1%eth0", frankfurt, "2001:db8:1::/48", true},
		// mmdbwriter aliases 6to4 (2002::/16) to the IPv4 tree.
		{"2002:c000:201::1", frankfurt, "2002:c000:200::/40", true},

		// Misses: the network is the database's empty record (the tree has
		// nothing below 128.0.0.0; 2001:db8:4:: parts from the /48s at bit 45).
		{"8.8.8.8", Location{}, "0.0.0.0/1", false},
		{"192.0.3.0", Location{}, "192.0.3.0/24", false},
		{"2001:db8:4::1", Location{}, "2001:db8:4::/46", false},

		// Not looked up.
		{"10.1.2.3", Location{}, "10.0.0.0/8", false},
		{"172.31.0.1", Location{}, "172.16.0.0/12", false},
		{"192.168.7.7", Location{}, "192.168.0.0/16", false},
		{"127.0.0.1", Location{}, "127.0.0.0/8", false},
		{"169.254.1.1", Location{}, "169.254.0.0/16", false},
		{"224.0.0.251", Location{}, "224.0.0.0/4", false},
		{"0.0.0.0", Location{}, "0.0.0.0/32", false},
		{"::ffff:10.0.0.1", Location{}, "10.0.0.0/8", false},
		{"::1", Location{}, "::1/128", false},
		{"::", Location{}, "::/128", false},
		{"fd12:3456::1", Location{}, "fc00::/7", false},
		{"fe80::1%eth0", Location{}, "fe80::/10", false},
		{"ff02::fb", Location{}, "ff00::/8", false},
	})

	if _, n, ok := l.Locate(netip.Addr{}); ok || n.IsValid() {
		t.Errorf("Locate(invalid) = %s, %v", n, ok)
	}
}

func TestLocateOverrides(t *testing.T) {
	l := newLocator(t, []string{testCityDB},
		override("10.0.0.0/8", dc("a")),
		override("10.1.0.0/16", dc("b")),
		override("10.1.2.0/28", dc("c")),
		override("192.0.2.128/25", ashburn),
		override("127.0.0.0/8", dc("local")),
		override("2001:db8:1:1::/64", dc("v6")),
		override("::ffff:198.51.100.0/120", dc("mapped")), // taken as 198.51.100.0/24
	)
	checkLocate(t, l, []locateCase{
		{"10.1.2.5", dc("c"), "10.1.2.0/28", true},
		{"::ffff:10.1.2.5", dc("c"), "10.1.2.0/28", true},
		// Just outside the /28: the network must not hold it.
		{"10.1.2.16", dc("b"), "10.1.2.16/28", true},
		{"10.1.2.255", dc("b"), "10.1.2.128/25", true},
		{"10.1.3.0", dc("b"), "10.1.3.0/24", true},
		{"10.1.255.255", dc("b"), "10.1.128.0/17", true},
		{"10.1.0.0", dc("b"), "10.1.0.0/23", true},
		// Outside the /16, inside the /8.
		{"10.2.0.0", dc("a"), "10.2.0.0/15", true},
		{"10.0.255.255", dc("a"), "10.0.0.0/16", true},
		{"10.200.0.1", dc("a"), "10.128.0.0/9", true},
		// Overrides beat the database and the special blocks.
		{"192.0.2.200", ashburn, "192.0.2.128/25", true},
		{"192.0.2.1", frankfurt, "192.0.2.0/25", true},
		{"127.0.0.1", dc("local"), "127.0.0.0/8", true},
		{"198.51.100.1", dc("mapped"), "198.51.100.0/24", true},
		{"2001:db8:1:1::53", dc("v6"), "2001:db8:1:1::/64", true},
		{"2001:db8:1::1", frankfurt, "2001:db8:1::/64", true},
		{"2001:db8:1:8000::", frankfurt, "2001:db8:1:8000::/49", true},
		// Misses are cut by overrides too.
		{"8.8.8.8", Location{}, "8.0.0.0/7", false},
		{"11.0.0.0", Location{}, "11.0.0.0/8", false},
	})
}

// A City database, then a Country database: the first that knows wins.
func TestLocateDatabasesInOrder(t *testing.T) {
	first := writeDB(t, mmdbwriter.Options{DatabaseType: "GeoIP2-Country", RecordSize: 24},
		row{"198.51.100.0/25", country("FR")},
		// Neither country nor coordinates: unknown to this database.
		row{"198.51.100.128/26", mmdbtype.Map{"continent": mmdbtype.Map{"code": mmdbtype.String("NA")}}},
		// Coordinates only, and they are zero: still a location.
		row{"203.0.113.0/25", mmdbtype.Map{"location": mmdbtype.Map{
			"latitude": mmdbtype.Float64(0), "longitude": mmdbtype.Float64(0)}}},
		// A latitude without a longitude is no coordinate.
		row{"203.0.113.128/25", mmdbtype.Map{
			"continent": mmdbtype.Map{"code": mmdbtype.String("AS")},
			"location":  mmdbtype.Map{"latitude": mmdbtype.Float64(1)}}},
		row{"2001:db8:2::/49", country("CA")},
		// Not the GeoIP2 layout (country is a string): unknown.
		row{"2001:db8:3::/49", mmdbtype.Map{"country": mmdbtype.String("SG")}},
	)
	l := newLocator(t, []string{first, testCityDB})
	checkLocate(t, l, []locateCase{
		{"198.51.100.1", Location{Country: "FR"}, "198.51.100.0/25", true},
		{"198.51.100.130", ashburn, "198.51.100.128/26", true},
		{"198.51.100.200", ashburn, "198.51.100.192/26", true},
		{"203.0.113.1", Location{HasCoords: true}, "203.0.113.0/25", true},
		{"203.0.113.129", singapore, "203.0.113.128/25", true},
		{"192.0.2.1", frankfurt, "192.0.2.0/24", true},
		{"2001:db8:2::1", Location{Country: "CA"}, "2001:db8:2::/49", true},
		{"2001:db8:2:8000::1", ashburn, "2001:db8:2:8000::/49", true},
		{"2001:db8:1::1", frankfurt, "2001:db8:1::/48", true},
		{"2001:db8:3::1", singapore, "2001:db8:3::/49", true},
	})

	// The other way round, the City database answers everything it knows.
	l = newLocator(t, []string{testCityDB, first})
	checkLocate(t, l, []locateCase{
		{"198.51.100.1", ashburn, "198.51.100.0/24", true},
		{"2001:db8:2::1", ashburn, "2001:db8:2::/48", true},
	})
}

// Database networks wider than the special blocks or ::ffff:0:0/96 are cut.
func TestLocateWideRecords(t *testing.T) {
	v4only := writeDB(t, mmdbwriter.Options{DatabaseType: "GeoIP2-Country", IPVersion: 4},
		row{"192.0.0.0/8", country("JP")})
	// No IPv4 aliases, one record for everything: the tree ends above ::/96.
	everything := writeDB(t, mmdbwriter.Options{DatabaseType: "GeoIP2-Country", DisableIPv4Aliasing: true},
		row{"::/0", country("AQ")})

	l := newLocator(t, []string{v4only, testCityDB})
	checkLocate(t, l, []locateCase{
		// 192.168.0.0/16 is inside 192.0.0.0/8; they part at bit 8.
		{"192.0.2.1", Location{Country: "JP"}, "192.0.0.0/9", true},
		{"192.200.0.1", Location{Country: "JP"}, "192.192.0.0/10", true},
		{"2001:db8:1::1", frankfurt, "2001:db8:1::/48", true},
	})

	l = newLocator(t, []string{everything})
	checkLocate(t, l, []locateCase{
		{"8.8.8.8", Location{Country: "AQ"}, "8.0.0.0/7", true},
		{"1.1.1.1", Location{Country: "AQ"}, "1.0.0.0/8", true}, // 0.0.0.0/32 is special
		// ::ffff:0:0/96 is 80 zero bits then ones: 2a00:: parts from it at bit 2.
		{"2a00::1", Location{Country: "AQ"}, "2000::/3", true},
		{"2001:db8::1", Location{Country: "AQ"}, "2000::/3", true},
		{"::2", Location{Country: "AQ"}, "::2/127", true},
	})
	for _, a := range []string{"::ffff:1.1.1.1", "::1:0:0:0", "::fffe:0:0"} {
		_, n, _ := l.Locate(netip.MustParseAddr(a))
		if n.Addr().Is6() && n.Overlaps(mappedBlock) {
			t.Errorf("Locate(%s) network %s overlaps %s", a, n, mappedBlock)
		}
	}
}

func TestSpecialBlocksMatchNetip(t *testing.T) {
	special := func(a netip.Addr) bool {
		return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast()
	}
	inBlocks := func(a netip.Addr) bool {
		for _, p := range specialBlocks {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	var addrs []netip.Addr
	for _, p := range specialBlocks {
		addrs = append(addrs, p.Addr(), p.Addr().Prev(), lastAddr(p), lastAddr(p).Next())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		addrs = append(addrs, randomAddr(rng, netip.MustParsePrefix("0.0.0.0/0")),
			randomAddr(rng, netip.MustParsePrefix("::/0")),
			randomAddr(rng, netip.MustParsePrefix("fc00::/6")))
	}
	for _, a := range addrs {
		if a.IsValid() && special(a) != inBlocks(a) {
			t.Errorf("%s: netip says special=%v, specialBlocks say %v", a, special(a), inBlocks(a))
		}
	}
}

// exactLocator has nested overrides, two databases and wide records, so
// networks get cut in every way Locate cuts them.
func exactLocator(t testing.TB) *Locator {
	wide := writeDB(t, mmdbwriter.Options{DatabaseType: "GeoIP2-Country"},
		row{"192.0.0.0/8", country("JP")},
		row{"2001:db8:8000::/33", country("NZ")},
		row{"2400::/6", country("AU")},
	)
	return newLocator(t, []string{testCityDB, wide},
		override("10.0.0.0/8", dc("a")),
		override("10.1.0.0/16", dc("b")),
		override("10.1.2.0/28", dc("c")),
		override("192.0.2.128/25", dc("d")),
		override("192.168.1.0/24", dc("home")),
		override("2001:db8:1:1::/64", dc("e")),
		override("2001:db8:1:1:1::/80", dc("f")),
		override("2400:cb00::/32", dc("g")),
	)
}

// interesting are the prefixes random addresses come from.
var interesting = []string{
	"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "192.0.0.0/8", "192.0.2.0/24",
	"192.168.0.0/16", "198.51.100.0/24", "203.0.113.0/24",
	"::/0", "::/64", "::ffff:0:0/96", "::ffff:192.0.2.0/120", "2001:db8::/32", "2001:db8:1:1::/64",
	"2001:db8:1:1::/72", "2002::/16", "2400::/6", "2400:cb00::/32", "fc00::/6",
}

func TestLocateNetworkIsExact(t *testing.T) {
	l := exactLocator(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		from := netip.MustParsePrefix(interesting[i%len(interesting)])
		a := randomAddr(rng, from)
		loc, n, ok := l.Locate(a)
		if !n.Contains(a.Unmap()) {
			t.Fatalf("Locate(%s): network %s does not hold it", a, n)
		}
		if n.Addr().Is4In6() || (n.Addr().Is6() && n.Overlaps(mappedBlock)) {
			t.Fatalf("Locate(%s): network %s in IPv4-mapped space", a, n)
		}
		for _, b := range []netip.Addr{n.Addr(), lastAddr(n), randomAddr(rng, n), randomAddr(rng, n)} {
			if loc2, _, ok2 := l.Locate(b); loc2 != loc || ok2 != ok {
				t.Fatalf("Locate(%s) = %+v, %v in %s, but Locate(%s) = %+v, %v", a, loc, ok, n, b, loc2, ok2)
			}
		}
	}
}

func TestWithin(t *testing.T) {
	l := exactLocator(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range append(interesting, "192.0.2.5/32", "10.1.2.3/8", "::ffff:0:0/95") {
		p := netip.MustParsePrefix(s).Masked()
		t.Run(s, func(t *testing.T) {
			var pieces []netip.Prefix
			l.Within(p, func(n netip.Prefix, loc Location, ok bool) bool {
				pieces = append(pieces, n)
				if len(pieces) > 10000 {
					t.Fatalf("more than 10000 pieces")
				}
				for range 3 {
					a := randomAddr(rng, n)
					if loc2, _, ok2 := l.Locate(a); loc2 != loc || ok2 != ok {
						t.Errorf("piece %s: %+v, %v; Locate(%s) = %+v, %v", n, loc, ok, a, loc2, ok2)
					}
				}
				return true
			})
			checkPartition(t, p, pieces)
		})
	}
}

// checkPartition checks that pieces are disjoint, in order and cover p exactly.
func checkPartition(t *testing.T, p netip.Prefix, pieces []netip.Prefix) {
	t.Helper()
	if len(pieces) == 0 {
		t.Fatal("no pieces")
	}
	sum := new(big.Int)
	next := p.Addr()
	for _, n := range pieces {
		if !p.Contains(n.Addr()) || n.Bits() < p.Bits() || n.Addr().Is4() != p.Addr().Is4() {
			t.Fatalf("piece %s is not inside %s", n, p)
		}
		if n.Addr() != next {
			t.Fatalf("piece %s: want it to start at %s", n, next)
		}
		next = lastAddr(n).Next()
		sum.Add(sum, size(n))
	}
	if last := pieces[len(pieces)-1]; lastAddr(last) != lastAddr(p) {
		t.Fatalf("last piece %s ends before %s", last, lastAddr(p))
	}
	if sum.Cmp(size(p)) != 0 {
		t.Fatalf("pieces hold %s addresses, %s holds %s", sum, p, size(p))
	}
}

func TestWithinStops(t *testing.T) {
	l := exactLocator(t)
	calls := 0
	l.Within(netip.MustParsePrefix("10.0.0.0/8"), func(netip.Prefix, Location, bool) bool {
		calls++
		return calls < 2
	})
	if calls != 2 {
		t.Errorf("%d calls after fn said stop at the second", calls)
	}
	l.Within(netip.Prefix{}, func(netip.Prefix, Location, bool) bool {
		t.Error("called for the zero prefix")
		return true
	})
}

func TestOpenLocatorErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(testCityDB)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	truncated := filepath.Join(dir, "truncated.mmdb")
	empty := filepath.Join(dir, "empty.mmdb")
	for name, data := range map[string][]byte{
		corrupt:   []byte(strings.Repeat("not a MaxMind DB ", 100)),
		truncated: good[:len(good)/2],
		empty:     nil,
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{filepath.Join(dir, "missing.mmdb"), corrupt, truncated, empty} {
		l, err := OpenLocator([]string{testCityDB, path}, nil)
		if err == nil {
			l.Close()
			t.Errorf("%s: no error", path)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
	}

	for _, o := range []Override{
		{Prefix: netip.MustParsePrefix("10.1.2.3/8")},
		{Prefix: netip.Prefix{}},
	} {
		if _, err := OpenLocator(nil, []Override{o}); err == nil {
			t.Errorf("override %s: no error", o.Prefix)
		}
	}
	dup := []Override{override("10.0.0.0/8", dc("a")), override("::ffff:10.0.0.0/104", dc("b"))}
	if _, err := OpenLocator(nil, dup); err == nil || !strings.Contains(err.Error(), "10.0.0.0/8") {
		t.Errorf("duplicate override: %v", err)
	}
}

// Overrides only: no database, thousands of overrides.
func TestLocateManyOverrides(t *testing.T) {
	var overrides []Override
	for i := range 4096 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{100, byte(64 + i>>8), byte(i), 0}), 24)
		overrides = append(overrides, Override{Prefix: p, Location: dc(p.String())})
	}
	l := newLocator(t, nil, overrides...)
	for _, o := range overrides {
		a := o.Prefix.Addr().Next()
		if loc, n, ok := l.Locate(a); !ok || loc != o.Location || n != o.Prefix {
			t.Fatalf("Locate(%s) = %+v, %s, %v", a, loc, n, ok)
		}
	}
	checkLocate(t, l, []locateCase{
		{"100.80.0.1", Location{}, "100.80.0.0/12", false},
		{"8.8.8.8", Location{}, "0.0.0.0/2", false},
		{"2001:db8::1", Location{}, "2000::/3", false},
	})
}

func TestLocateConcurrent(t *testing.T) {
	l := exactLocator(t)
	addrs := allBenchAddrs()
	type result struct {
		loc Location
		n   netip.Prefix
		ok  bool
	}
	want := make([]result, len(addrs))
	for i, a := range addrs {
		want[i].loc, want[i].n, want[i].ok = l.Locate(a)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 1000 {
				j := i % len(addrs)
				if loc, n, ok := l.Locate(addrs[j]); (result{loc, n, ok}) != want[j] {
					t.Errorf("Locate(%s) = %+v, %s, %v; want %+v", addrs[j], loc, n, ok, want[j])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLocateDoesNotAllocate(t *testing.T) {
	l := exactLocator(t)
	addrs := allBenchAddrs()
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		l.Locate(addrs[i%len(addrs)])
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Locate", allocs)
	}
}

// benchAddrs are addresses of every kind Locate answers, by kind.
var benchAddrs = []struct {
	name  string
	addrs []string
}{
	{"db-v4", []string{"192.0.2.1", "198.51.100.77", "203.0.113.9", "::ffff:192.0.2.1"}},
	{"db-v6", []string{"2001:db8:1::1", "2001:db8:2::1", "2001:db8:3:4::5"}},
	{"miss", []string{"8.8.8.8", "2a00:1450::1"}},
	{"override", []string{"10.1.2.5", "2001:db8:1:1::1", "100.100.1.1"}},
	{"special", []string{"127.0.0.1", "fd00::1"}},
}

func allBenchAddrs() []netip.Addr {
	var addrs []netip.Addr
	for _, kind := range benchAddrs {
		for _, s := range kind.addrs {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
	}
	return addrs
}

func BenchmarkLocate(b *testing.B) {
	overrides := []Override{
		override("10.1.2.0/28", dc("c")),
		override("2001:db8:1:1::/64", dc("e")),
	}
	for i := range 100 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{100, byte(64 + i), 0, 0}), 16)
		overrides = append(overrides, Override{Prefix: p, Location: dc("x")})
	}
	l := newLocator(b, []string{testCityDB}, overrides...)
	run := func(b *testing.B, addrs []netip.Addr) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.Locate(addrs[i%len(addrs)])
			i++
		}
	}
	b.Run("mixed", func(b *testing.B) { run(b, allBenchAddrs()) })
	for _, kind := range benchAddrs {
		var addrs []netip.Addr
		for _, s := range kind.addrs {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		b.Run(kind.name, func(b *testing.B) { run(b, addrs) })
	}
	b.Run("parallel", func(b *testing.B) {
		addrs := allBenchAddrs()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				l.Locate(addrs[i%len(addrs)])
				i++
			}
		})
	})
}

// randomAddr is a random address in p.
func randomAddr(rng *rand.Rand, p netip.Prefix) netip.Addr {
	k := keyOf(p.Addr())
	r := key{rng.Uint64(), rng.Uint64()}
	m := mask(key{^uint64(0), ^uint64(0)}, p.Bits())
	k = key{k.hi | r.hi&^m.hi, k.lo | r.lo&^m.lo}
	if p.Addr().Is4() {
		return netip.AddrFrom4([4]byte{byte(k.hi >> 56), byte(k.hi >> 48), byte(k.hi >> 40), byte(k.hi >> 32)})
	}
	var b [16]byte
	for i := range 8 {
		b[i], b[8+i] = byte(k.hi>>(56-8*i)), byte(k.lo>>(56-8*i))
	}
	return netip.AddrFrom16(b)
}

// size is the number of addresses in p.
func size(p netip.Prefix) *big.Int {
	return new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits()))
}
