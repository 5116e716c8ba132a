package geodns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// Location is where an address is, as far as the Locator knows.
type Location struct {
	Country    string // ISO 3166-1 alpha-2, upper case; "" if unknown
	Continent  string // AF AN AS EU NA OC SA; "" if unknown
	Lat, Lon   float64
	HasCoords  bool
	Datacenter string // set only by an override that names a data center
}

// Override places a network by configuration; it beats the databases.
// Longest prefix wins among overrides.
type Override struct {
	Prefix   netip.Prefix // masked
	Location Location
}

// Locator places addresses. Safe for concurrent use.
//
// It answers from, in order: the overrides (longest prefix wins); then, for
// loopback, private, link-local, unspecified and multicast addresses, "not
// located"; then the MaxMind DB files, the first that knows an address wins.
// Every answer comes with the network around the address that gets the same
// answer, so a DNS reply can carry it as the ECS scope.
type Locator struct {
	dbs    []*maxminddb.Reader
	paths  []string
	v4, v6 trie
}

// OpenLocator opens the mmdb files (in order: the first that knows an address
// wins) and keeps the overrides. Errors name the file. Zero files is allowed
// (overrides only).
//
// Override prefixes must be masked and distinct; an IPv4-mapped IPv6 prefix
// (inside ::ffff:0:0/96) is taken as the IPv4 prefix it maps, since Locate
// unmaps addresses. IPv6 overrides never cover IPv4 addresses, not even ::/0.
func OpenLocator(paths []string, overrides []Override) (*Locator, error) {
	l := &Locator{v4: trie{maxBits: 32}, v6: trie{maxBits: 128}}
	for _, p := range specialBlocks {
		l.trieFor(p.Addr()).insert(p, entry{kind: kindSpecial})
	}
	l.v6.insert(mappedBlock, entry{kind: kindBarrier})
	for _, o := range overrides {
		p := o.Prefix
		if !p.IsValid() {
			return nil, fmt.Errorf("geodns: override %q: invalid prefix", p)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("geodns: override %s: not masked (want %s)", p, p.Masked())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if !l.trieFor(p.Addr()).insert(p, entry{kind: kindOverride, loc: o.Location}) {
			return nil, fmt.Errorf("geodns: override %s: listed twice", p)
		}
	}
	for _, path := range paths {
		db, err := maxminddb.Open(path)
		if err != nil {
			err = fmt.Errorf("geodns: open %s: %w", path, err)
			return nil, errors.Join(err, l.Close())
		}
		l.dbs = append(l.dbs, db)
		l.paths = append(l.paths, path)
	}
	return l, nil
}

// Close releases the database files. Locate must not run during or after Close.
func (l *Locator) Close() error {
	var errs []error
	for i, db := range l.dbs {
		if err := db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("geodns: close %s: %w", l.paths[i], err))
		}
	}
	l.dbs, l.paths = nil, nil
	return errors.Join(errs...)
}

// Locate returns where addr is (IPv4-mapped IPv6 addresses are unmapped
// first) and the widest network around addr in which every address gets the
// same result from Locate (same Location and same ok). ok is false when
// nothing places it.
//
// The network is in addr's family after unmapping: an IPv4 address always
// gets an IPv4 prefix. It starts as the longest override holding addr, else
// the special block holding addr (10.0.0.0/8, fc00::/7, ...), else the
// database record's network narrowed by the networks of earlier databases
// that did not know addr, and is then cut down just enough to hold no
// override or special block that does not hold addr and would answer
// differently. An IPv6 network never holds ::ffff:0:0/96, whose addresses
// Locate answers as IPv4. "Widest" is as far as that goes: a database may
// split equal records, and networks with equal answers can overlap (0.0.0.0
// gets 0.0.0.0/32, 0.0.0.1 may get a "not located" 0.0.0.0/5 from a database
// miss), so the network is always safe to use as an ECS scope but the
// networks are not a partition; Within gives one. An invalid addr gives the
// zero Prefix. A record that fails to decode counts as unknown to that
// database.
func (l *Locator) Locate(addr netip.Addr) (loc Location, network netip.Prefix, ok bool) {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return Location{}, netip.Prefix{}, false
	}
	w := l.trieFor(addr).walk(keyOf(addr))
	if w.override != nil {
		return w.override.loc, pfx(addr, w.override.bits, w.hard), true
	}
	if w.special != nil {
		return Location{}, pfx(addr, w.special.bits, w.hard), false
	}
	known := 0 // addr's network is no wider than any database's answer
	for _, db := range l.dbs {
		loc, n, ok := lookup(db, addr)
		known = max(known, n)
		if ok {
			// Special blocks nested in the network answer "not located".
			return loc, pfx(addr, known, w.any), true
		}
	}
	// Special blocks also answer "not located", so only overrides cut here.
	return Location{}, pfx(addr, known, w.hard), false
}

// Within reports a partition of p: it calls fn for disjoint networks, in
// address order, that together cover exactly p, each with the result Locate
// gives for every address in it (adjacent pieces may have equal results;
// that's fine). It stops when fn returns false.
//
// Pieces are in p's form: inside an IPv6 p, the IPv4-mapped range
// ::ffff:0:0/96 comes back as IPv4-mapped IPv6 prefixes.
func (l *Locator) Within(p netip.Prefix, fn func(network netip.Prefix, loc Location, ok bool) bool) {
	if !p.IsValid() {
		return
	}
	p = p.Masked()
	end := lastAddr(p)
	for at := p.Addr(); ; {
		loc, n, ok := l.Locate(at)
		if at.Is4In6() {
			n = netip.PrefixFrom(netip.AddrFrom16(n.Addr().As16()), n.Bits()+96)
		}
		// n and p both hold at, but n may start before at: networks of
		// equal answers can overlap (0.0.0.0/32, not looked up, and the
		// database's miss around it are both "not located"). The piece is
		// the widest prefix that starts at at and fits in both.
		piece, _ := at.Prefix(max(n.Bits(), p.Bits(), alignment(at)))
		if !fn(piece, loc, ok) {
			return
		}
		last := lastAddr(piece)
		if last == end {
			return
		}
		at = last.Next()
	}
}

func (l *Locator) trieFor(a netip.Addr) *trie {
	if a.Is4() {
		return &l.v4
	}
	return &l.v6
}

// pfx is addr's network of at least bits bits that also leaves out every
// entry branching off at depth branch (-1: none).
func pfx(addr netip.Addr, bits, branch int) netip.Prefix {
	p, _ := addr.Prefix(max(bits, branch+1))
	return p
}

// specialBlocks hold the addresses Locate does not look up unless an override
// places them: loopback, private, link-local unicast, unspecified and
// multicast, as net/netip defines them.
var specialBlocks = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/32"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// mappedBlock is IPv4 space written as IPv6; Locate unmaps it.
var mappedBlock = netip.MustParsePrefix("::ffff:0:0/96")

// record is the part of a GeoIP2/GeoLite2 City or Country record that Locate
// reads: continent.code, country.iso_code, location.latitude and
// location.longitude. It decodes itself, skipping everything else: about a
// quarter faster per lookup than the library's reflection into a struct.
type record struct {
	continent, country string
	lat, lon           float64
	hasLat, hasLon     bool // 0 is a real coordinate
}

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler.
func (r *record) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	return eachField(c, func(name []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		switch string(name) {
		case "continent":
			return stringField(v, "code", &r.continent)
		case "country":
			return stringField(v, "iso_code", &r.country)
		case "location":
			return eachField(v, func(name []byte, v mmdbdata.Cursor) (next mmdbdata.Cursor, err error) {
				switch string(name) {
				case "latitude":
					r.lat, next, err = v.ReadFloat()
					r.hasLat = err == nil
				case "longitude":
					r.lon, next, err = v.ReadFloat()
					r.hasLon = err == nil
				default:
					next, err = v.Skip()
				}
				return next, err
			})
		default:
			return v.Skip()
		}
	})
}

// eachField calls fn for each entry of the map at c; fn returns the cursor
// after the value it was given.
func eachField(c mmdbdata.Cursor, fn func(name []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error)) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	var next mmdbdata.Cursor
	for {
		name, v, ok := m.Next(next)
		if !ok {
			return m.End()
		}
		if next, err = fn(name, v); err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
}

// stringField reads the string field name of the map at c into dst.
func stringField(c mmdbdata.Cursor, name string, dst *string) (mmdbdata.Cursor, error) {
	return eachField(c, func(n []byte, v mmdbdata.Cursor) (next mmdbdata.Cursor, err error) {
		if string(n) != name {
			return v.Skip()
		}
		*dst, next, err = v.ReadString()
		return next, err
	})
}

// records recycles decode targets: Decode takes an interface, so a record on
// the stack would escape on every lookup.
var records = sync.Pool{New: func() any { return new(record) }}

// lookup asks one database. bits is the length of the database's network
// around addr (in addr's family) whether or not it knows addr. A record that
// fails to decode, or a search tree that fails to read, counts as unknown;
// the network is still the one the tree gives, which holds only addresses
// that reach the same record or the same fault.
func lookup(db *maxminddb.Reader, addr netip.Addr) (loc Location, bits int, ok bool) {
	if addr.Is6() && db.Metadata.IPVersion == 4 {
		return Location{}, 0, false // an IPv4 database knows no IPv6 address
	}
	res := db.Lookup(addr)
	n := res.Prefix()
	bits = n.Bits()
	if addr.Is4() && n.Addr().Is6() {
		// The tree ends above the IPv4 subtree (::/96): one answer for all of IPv4.
		bits = 0
	}
	if !res.Found() {
		return Location{}, bits, false
	}
	rec := records.Get().(*record)
	defer records.Put(rec)
	*rec = record{}
	if err := res.Decode(rec); err != nil {
		return Location{}, bits, false
	}
	loc = Location{Country: rec.country, Continent: rec.continent, HasCoords: rec.hasLat && rec.hasLon}
	if loc.HasCoords {
		loc.Lat, loc.Lon = rec.lat, rec.lon
	}
	return loc, bits, loc.Country != "" || loc.HasCoords
}

// The trie: a path-compressed binary trie of prefixes (one per family) that
// holds the overrides, the special blocks and ::ffff:0:0/96. One walk down
// addr's path finds the longest override and special block holding addr and
// the deepest point where an entry not holding addr branches off, which is how
// far the network must be cut down to leave that entry out.

type kind uint8

const (
	kindOverride kind = 1 << iota // places a network
	kindSpecial                   // not looked up: loopback, private, ...
	kindBarrier                   // never holds a looked-up address; networks must not span it
)

// kindHard is what changes every answer it overlaps: a special block only
// changes a database hit.
const kindHard = kindOverride | kindBarrier

type entry struct {
	kind kind
	loc  Location
}

// key is an address or a prefix, left-aligned: IPv4 in the top 32 bits of hi.
type key struct{ hi, lo uint64 }

func keyOf(a netip.Addr) key {
	if a.Is4() {
		b := a.As4()
		return key{hi: uint64(binary.BigEndian.Uint32(b[:])) << 32}
	}
	b := a.As16()
	return key{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (k key) bit(i int) int {
	if i < 64 {
		return int(k.hi>>(63-i)) & 1
	}
	return int(k.lo>>(127-i)) & 1
}

// common is the number of leading bits a and b share (128 if equal).
func common(a, b key) int {
	if x := a.hi ^ b.hi; x != 0 {
		return bits.LeadingZeros64(x)
	}
	return 64 + bits.LeadingZeros64(a.lo^b.lo)
}

type node struct {
	key   key
	bits  int
	entry      // kind 0: a branching node without an entry
	below kind // kinds of all entries in this subtree, this node's included
	child [2]*node
}

type trie struct {
	root    *node
	maxBits int
}

// insert adds p; false if p is already there with the same kind.
func (t *trie) insert(p netip.Prefix, e entry) bool {
	k, b := keyOf(p.Addr()), p.Bits()
	leaf := &node{key: k, bits: b, entry: e, below: e.kind}
	at := &t.root
	for {
		n := *at
		if n == nil {
			*at = leaf
			return true
		}
		c := min(common(k, n.key), b, n.bits)
		switch {
		case c == n.bits && c == b:
			if n.kind&e.kind != 0 {
				return false
			}
			if e.kind == kindOverride {
				n.loc = e.loc
			}
			n.kind |= e.kind
			n.below |= e.kind
			return true
		case c == n.bits: // n holds p
			n.below |= e.kind
			at = &n.child[k.bit(c)]
		case c == b: // p holds n
			leaf.child[n.key.bit(c)] = n
			leaf.below |= n.below
			*at = leaf
			return true
		default: // they part at bit c
			fork := &node{key: mask(k, c), bits: c, below: n.below | e.kind}
			fork.child[n.key.bit(c)] = n
			fork.child[k.bit(c)] = leaf
			*at = fork
			return true
		}
	}
}

// walkResult is what the trie knows about one address.
type walkResult struct {
	override *node // longest override holding the address
	special  *node // longest special block holding the address
	hard     int   // deepest bit where an override or barrier branches off; -1 if none
	any      int   // the same for any entry
}

func (t *trie) walk(k key) walkResult {
	w := walkResult{hard: -1, any: -1}
	branch := func(below kind, depth int) {
		if below&kindHard != 0 {
			w.hard = depth
		}
		w.any = depth
	}
	for n := t.root; n != nil; {
		if c := common(k, n.key); c < n.bits {
			branch(n.below, c) // all of n's subtree parts from k at bit c
			break
		}
		if n.kind&kindOverride != 0 {
			w.override = n
		}
		if n.kind&kindSpecial != 0 {
			w.special = n
		}
		if n.bits == t.maxBits {
			break
		}
		b := k.bit(n.bits)
		if other := n.child[1-b]; other != nil {
			branch(other.below, n.bits)
		}
		n = n.child[b]
	}
	return w
}

func mask(k key, b int) key {
	switch {
	case b == 0:
		return key{}
	case b <= 64:
		return key{hi: k.hi &^ (^uint64(0) >> b)}
	default:
		return key{hi: k.hi, lo: k.lo &^ (^uint64(0) >> (b - 64))}
	}
}

// alignment is the length of the widest prefix that starts at a.
func alignment(a netip.Addr) int {
	k := keyOf(a)
	if a.Is4() {
		return 32 - bits.TrailingZeros32(uint32(k.hi>>32))
	}
	if k.lo != 0 {
		return 64 - bits.TrailingZeros64(k.lo) + 64
	}
	return 64 - bits.TrailingZeros64(k.hi)
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	a, b := p.Addr(), p.Bits()
	if a.Is4() {
		v := keyOf(a).hi>>32 | uint64(^uint32(0)>>b)
		var out [4]byte
		binary.BigEndian.PutUint32(out[:], uint32(v))
		return netip.AddrFrom4(out)
	}
	k := keyOf(a)
	if b <= 64 {
		k.hi |= ^uint64(0) >> b
		k.lo = ^uint64(0)
	} else {
		k.lo |= ^uint64(0) >> (b - 64)
	}
	var out [16]byte
	binary.BigEndian.PutUint64(out[:8], k.hi)
	binary.BigEndian.PutUint64(out[8:], k.lo)
	return netip.AddrFrom16(out)
}
