package geodns

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Datacenter is a data center as the Selector sees it.
type Datacenter struct {
	Name      string
	Country   string
	Continent string
	Lat, Lon  float64
}

// PinRule sends the clients of some countries or continents to data
// centers in a fixed order.
type PinRule struct {
	Countries   []string
	Continents  []string
	Datacenters []string
}

// Ranking is the order in which a client's data centers are tried. Rankings
// are interned: two clients with equal orders get the same *Ranking, so a
// pointer comparison tells whether two clients always get the same answer.
type Ranking struct {
	// Order holds indexes into the Selector's data centers, every one once.
	Order []int
}

// Selector orders data centers for a client location: an override's data
// center first, then a pin's list, then the rest by great-circle distance
// (or, without coordinates, same country, same continent, default order).
type Selector struct {
	dcs          []Datacenter
	index        map[string]int
	pins         []pinRule
	defaultOrder []int

	// byLocation caches the ranking of each location seen; locations come
	// from the databases and the config, so there are few distinct ones.
	byLocation sync.Map // Location → *Ranking
	cached     atomic.Int64
	interned   sync.Map // string of the order → *Ranking
}

type pinRule struct {
	countries, continents []string
	order                 []int
}

// maxCachedLocations bounds byLocation; when full it starts again empty.
// (A City database has some 100,000 distinct locations.)
const maxCachedLocations = 1 << 18

// NewSelector builds a Selector. defaultOrder and pins name data centers;
// one missing from defaultOrder is appended in dcs' order. Unknown names are
// ignored (the config is validated before).
func NewSelector(dcs []Datacenter, pins []PinRule, defaultOrder []string) *Selector {
	s := &Selector{dcs: dcs, index: map[string]int{}}
	for i, dc := range dcs {
		s.index[dc.Name] = i
	}
	s.defaultOrder = s.complete(s.indexes(defaultOrder), nil)
	for _, p := range pins {
		s.pins = append(s.pins, pinRule{countries: p.Countries, continents: p.Continents, order: s.indexes(p.Datacenters)})
	}
	return s
}

// Datacenters returns the data centers in their index order.
func (s *Selector) Datacenters() []Datacenter { return s.dcs }

// Default is the ranking of clients that cannot be located.
func (s *Selector) Default() *Ranking { return s.intern(s.defaultOrder) }

// Rank returns the ranking for a location; ok false means unknown.
func (s *Selector) Rank(loc Location, ok bool) *Ranking {
	if !ok {
		return s.Default()
	}
	if r, hit := s.byLocation.Load(loc); hit {
		return r.(*Ranking)
	}
	r := s.intern(s.rank(loc))
	if s.cached.Add(1) > maxCachedLocations {
		s.byLocation.Clear()
		s.cached.Store(1)
	}
	s.byLocation.Store(loc, r)
	return r
}

func (s *Selector) rank(loc Location) []int {
	var first []int
	if i, ok := s.index[loc.Datacenter]; ok {
		first = append(first, i)
	}
	for _, p := range s.pins {
		if (loc.Country != "" && slices.Contains(p.countries, loc.Country)) ||
			(loc.Continent != "" && slices.Contains(p.continents, loc.Continent)) {
			first = append(first, p.order...)
			break
		}
	}
	rest := make([]int, 0, len(s.dcs))
	if loc.HasCoords {
		for i := range s.dcs {
			rest = append(rest, i)
		}
		d := make([]float64, len(s.dcs))
		for i, dc := range s.dcs {
			d[i] = distanceKm(loc.Lat, loc.Lon, dc.Lat, dc.Lon)
		}
		slices.SortStableFunc(rest, func(a, b int) int {
			switch {
			case d[a] < d[b]:
				return -1
			case d[a] > d[b]:
				return 1
			}
			return 0
		})
	} else {
		// A Country database has no coordinates: same country, then same
		// continent, then the default order.
		for _, i := range s.defaultOrder {
			if loc.Country != "" && s.dcs[i].Country == loc.Country {
				rest = append(rest, i)
			}
		}
		for _, i := range s.defaultOrder {
			if loc.Continent != "" && s.dcs[i].Continent == loc.Continent && !slices.Contains(rest, i) {
				rest = append(rest, i)
			}
		}
		rest = append(rest, s.defaultOrder...)
	}
	return s.complete(first, rest)
}

// complete returns first followed by rest and then every other data
// center, each once.
func (s *Selector) complete(first, rest []int) []int {
	order := make([]int, 0, len(s.dcs))
	seen := make([]bool, len(s.dcs))
	add := func(is []int) {
		for _, i := range is {
			if !seen[i] {
				seen[i] = true
				order = append(order, i)
			}
		}
	}
	add(first)
	add(rest)
	for i := range s.dcs {
		add([]int{i})
	}
	return order
}

func (s *Selector) indexes(names []string) []int {
	var is []int
	for _, n := range names {
		if i, ok := s.index[n]; ok {
			is = append(is, i)
		}
	}
	return is
}

func (s *Selector) intern(order []int) *Ranking {
	key := make([]byte, 0, 2*len(order))
	for _, v := range order {
		key = append(key, byte(v>>8), byte(v))
	}
	// The distinct orders are few (each a permutation of the data centers that
	// some location produces), so interned stays small.
	if r, ok := s.interned.Load(string(key)); ok {
		return r.(*Ranking)
	}
	r, _ := s.interned.LoadOrStore(string(key), &Ranking{Order: order})
	return r.(*Ranking)
}

// distanceKm is the great-circle distance (haversine, mean Earth radius).
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

func (s *Selector) names() []string {
	names := make([]string, len(s.dcs))
	for i, dc := range s.dcs {
		names[i] = dc.Name
	}
	return names
}
