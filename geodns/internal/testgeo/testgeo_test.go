package testgeo

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

var update = flag.Bool("update", false, "rewrite the committed test database from Build")

// committed is the database file at the repository root, as tests use it.
const committed = "../../../testdata/geoip/tern-test-city.mmdb"

func TestCommittedDatabase(t *testing.T) {
	want, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(committed), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(committed, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s (%d bytes) differs from Build (%d bytes); run `go test ./geodns/internal/testgeo -update`",
			committed, len(got), len(want))
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	a, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two builds differ")
	}
}

// cityRecord is the part of the GeoIP2-City layout that Build writes.
type cityRecord struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  float64 `maxminddb:"latitude"`
		Longitude float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

func TestContents(t *testing.T) {
	data, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	db, err := maxminddb.OpenBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Verify(); err != nil {
		t.Fatal(err)
	}

	md := db.Metadata
	if md.DatabaseType != "GeoIP2-City" || md.IPVersion != 6 || md.RecordSize != 28 ||
		md.BuildEpoch != BuildEpoch || md.Description["en"] != "Tern test database: documentation ranges only" {
		t.Errorf("metadata = %+v", md)
	}

	for _, p := range Places {
		want := netip.MustParsePrefix(p.Network)
		for _, addr := range []netip.Addr{want.Addr(), lastAddr(want)} {
			res := db.Lookup(addr)
			var rec cityRecord
			if err := res.Decode(&rec); err != nil {
				t.Fatal(err)
			}
			if !res.Found() || res.Prefix() != want {
				t.Errorf("%s: found %v in %s, want %s", addr, res.Found(), res.Prefix(), want)
			}
			if rec.Country.ISOCode != p.Country || rec.Continent.Code != p.Continent ||
				rec.City.Names["en"] != p.City ||
				rec.Location.Latitude != p.Lat || rec.Location.Longitude != p.Lon {
				t.Errorf("%s: %+v, want %+v", addr, rec, p)
			}
		}
	}

	// Only the listed networks hold data. (Networks leaves out the IPv4
	// aliases ::ffff:0:0/96, 2001::/32 and 2002::/16 by default.)
	var got []netip.Prefix
	for res := range db.Networks() {
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Prefix())
	}
	var want []netip.Prefix
	for _, p := range Places {
		want = append(want, netip.MustParsePrefix(p.Network))
	}
	slices.SortFunc(got, netip.Prefix.Compare)
	slices.SortFunc(want, netip.Prefix.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("networks = %v, want %v", got, want)
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
