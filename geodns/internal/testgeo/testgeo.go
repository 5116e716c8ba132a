// Package testgeo builds Tern's test GeoIP database: a GeoIP2-City shaped
// MaxMind DB that places only the documentation address ranges (RFC 5737 and
// RFC 3849), so tests and the demo can use it without a licensed database.
//
// The committed copy lives at testdata/geoip/tern-test-city.mmdb;
// `go test ./geodns/internal/testgeo -update` rewrites it from Build.
package testgeo

import (
	"bytes"
	"fmt"
	"net"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// BuildEpoch is the build time written into the metadata
// (2026-01-01T00:00:00Z). It is fixed so that Build's bytes never change.
const BuildEpoch = 1767225600

// Place is one row of the database: a network and where it is.
type Place struct {
	Network   string // CIDR
	Country   string // ISO 3166-1 alpha-2
	Continent string // two-letter continent code
	City      string // English name
	Lat, Lon  float64
}

var (
	frankfurt = Place{Country: "DE", Continent: "EU", City: "Frankfurt", Lat: 50.11, Lon: 8.68}
	ashburn   = Place{Country: "US", Continent: "NA", City: "Ashburn", Lat: 39.04, Lon: -77.49}
	singapore = Place{Country: "SG", Continent: "AS", City: "Singapore", Lat: 1.35, Lon: 103.82}
)

func at(network string, p Place) Place {
	p.Network = network
	return p
}

// Places lists the database's contents in the order they are inserted.
// Everything else is absent from the database.
var Places = []Place{
	at("192.0.2.0/24", frankfurt),
	at("198.51.100.0/24", ashburn),
	at("203.0.113.0/24", singapore),
	at("2001:db8:1::/48", frankfurt),
	at("2001:db8:2::/48", ashburn),
	at("2001:db8:3::/48", singapore),
}

// Build returns the database file's bytes. The same code gives the same bytes.
func Build() ([]byte, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:   BuildEpoch,
		DatabaseType: "GeoIP2-City",
		Description:  map[string]string{"en": "Tern test database: documentation ranges only"},
		Languages:    []string{"en"},
		IPVersion:    6,
		RecordSize:   28,
		// The documentation ranges are reserved; without this mmdbwriter
		// refuses to insert them.
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return nil, fmt.Errorf("testgeo: %w", err)
	}
	for _, p := range Places {
		_, network, err := net.ParseCIDR(p.Network)
		if err != nil {
			return nil, fmt.Errorf("testgeo: %w", err)
		}
		if err := tree.Insert(network, p.record()); err != nil {
			return nil, fmt.Errorf("testgeo: insert %s: %w", p.Network, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("testgeo: write: %w", err)
	}
	return buf.Bytes(), nil
}

// record is p in the GeoIP2-City layout.
func (p Place) record() mmdbtype.Map {
	return mmdbtype.Map{
		"city": mmdbtype.Map{
			"names": mmdbtype.Map{"en": mmdbtype.String(p.City)},
		},
		"continent": mmdbtype.Map{"code": mmdbtype.String(p.Continent)},
		"country":   mmdbtype.Map{"iso_code": mmdbtype.String(p.Country)},
		"location": mmdbtype.Map{
			"latitude":  mmdbtype.Float64(p.Lat),
			"longitude": mmdbtype.Float64(p.Lon),
		},
	}
}
