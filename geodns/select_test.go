package geodns

import (
	"slices"
	"testing"
)

func TestSelectorRank(t *testing.T) {
	sites := []Datacenter{
		{Name: "eu-west", Country: "DE", Continent: "EU", Lat: 50.11, Lon: 8.68},
		{Name: "us-east", Country: "US", Continent: "NA", Lat: 39.04, Lon: -77.49},
		{Name: "ap-southeast", Country: "SG", Continent: "AS", Lat: 1.35, Lon: 103.82},
		{Name: "us-west", Country: "US", Continent: "NA", Lat: 37.4, Lon: -122.1},
	}
	pins := []PinRule{
		{Countries: []string{"AU"}, Datacenters: []string{"us-west", "ap-southeast"}},
		{Continents: []string{"AF"}, Datacenters: []string{"eu-west"}},
	}
	s := NewSelector(sites, pins, []string{"us-east", "eu-west"})
	names := func(r *Ranking) []string {
		var ns []string
		for _, i := range r.Order {
			ns = append(ns, sites[i].Name)
		}
		return ns
	}
	tests := []struct {
		name string
		loc  Location
		ok   bool
		want []string
	}{
		{"unknown: default order, the rest after", Location{}, false, []string{"us-east", "eu-west", "ap-southeast", "us-west"}},
		{"Paris by distance", Location{Country: "FR", Continent: "EU", Lat: 48.86, Lon: 2.35, HasCoords: true}, true, []string{"eu-west", "us-east", "us-west", "ap-southeast"}},
		{"Tokyo by distance", Location{Country: "JP", Continent: "AS", Lat: 35.68, Lon: 139.69, HasCoords: true}, true, []string{"ap-southeast", "us-west", "eu-west", "us-east"}},
		{"Sydney pinned by country", Location{Country: "AU", Continent: "OC", Lat: -33.87, Lon: 151.21, HasCoords: true}, true, []string{"us-west", "ap-southeast", "us-east", "eu-west"}},
		{"Lagos pinned by continent", Location{Country: "NG", Continent: "AF", Lat: 6.52, Lon: 3.38, HasCoords: true}, true, []string{"eu-west", "us-east", "ap-southeast", "us-west"}},
		{"override names a data center", Location{Datacenter: "ap-southeast", Lat: 48.86, Lon: 2.35, HasCoords: true}, true, []string{"ap-southeast", "eu-west", "us-east", "us-west"}},
		{"country database: same country first", Location{Country: "US", Continent: "NA"}, true, []string{"us-east", "us-west", "eu-west", "ap-southeast"}},
		{"country database: same continent", Location{Country: "CA", Continent: "NA"}, true, []string{"us-east", "us-west", "eu-west", "ap-southeast"}},
		{"country database: elsewhere", Location{Country: "IN", Continent: "AS"}, true, []string{"ap-southeast", "us-east", "eu-west", "us-west"}},
	}
	for _, tt := range tests {
		r := s.Rank(tt.loc, tt.ok)
		if got := names(r); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
		// Interned: asking again, or for another location with the same
		// order, gives the same pointer.
		if s.Rank(tt.loc, tt.ok) != r {
			t.Errorf("%s: ranking not interned", tt.name)
		}
	}
	if s.Rank(Location{Country: "CA", Continent: "NA"}, true) != s.Rank(Location{Country: "US", Continent: "NA"}, true) {
		t.Error("equal orders are different rankings")
	}
}

func TestDistance(t *testing.T) {
	// Frankfurt–Ashburn is about 6,600 km; a point to itself is 0.
	if d := distanceKm(50.11, 8.68, 39.04, -77.49); d < 6500 || d > 6700 {
		t.Errorf("Frankfurt–Ashburn %v km", d)
	}
	if d := distanceKm(1, 2, 1, 2); d != 0 {
		t.Errorf("same point %v", d)
	}
}

func TestRotations(t *testing.T) {
	edges := []Edge{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}, {Name: "c", Weight: 2}}
	rs := rotations(edges)
	lead := map[string]int{}
	for _, r := range rs {
		if len(r) != 3 {
			t.Fatalf("rotation %v", r)
		}
		lead[r[0].Name]++
	}
	if len(rs) != 6 || lead["a"] != 3 || lead["b"] != 1 || lead["c"] != 2 {
		t.Errorf("%d rotations, leads %v", len(rs), lead)
	}
}
