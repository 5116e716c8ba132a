package geodns

import (
	"net/netip"
	"slices"

	"github.com/miekg/dns"
)

// allUnchecked is the health before any check: every edge and data center
// unchecked.
type allUnchecked struct{}

func (allUnchecked) EdgeUsable(string) bool          { return false }
func (allUnchecked) EdgeUnchecked(string) bool       { return true }
func (allUnchecked) DatacenterUp(string) bool        { return false }
func (allUnchecked) DatacenterUnchecked(string) bool { return true }

// Rebuild prepares every geo name's answers for a health state.
//
// Answers come from the edges known healthy (checked at least once). A
// data center not checked yet is skipped, but a client that ranks it
// ahead of the one that answers gets a short TTL (UncheckedTTL), so it
// asks again once the checks are in; so does the answer of a data center
// with an edge not checked yet (it may join the answer). When no data center of a name is up
// and some are unchecked (just after a start), those answer with all their
// edges not known to be down, with the short TTL. A full TTL is given only
// to an answer that no unchecked data center could change. When every data
// center is known down, the name fails open (every edge, full TTL).
func (r *Responder) Rebuild(h HealthView) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failOpen == nil {
		r.failOpen = map[string]bool{}
	}
	for _, z := range r.zones {
		for _, g := range z.Geo() {
			a, open := r.geoAnswers(z, g, h)
			if open && !r.failOpen[g.Owner] {
				r.log.Error("every data center of a geo name is down: answering with all of their edges (fail open)", "name", g.Owner)
			} else if !open && r.failOpen[g.Owner] {
				r.log.Warn("a data center is up again: fail open ends", "name", g.Owner)
			}
			r.failOpen[g.Owner] = open
			g.answers.Store(a)
		}
	}
}

// geoAnswers prepares one geo name's answers (see Rebuild); open is true
// when the name fails open.
func (r *Responder) geoAnswers(z *Zone, g *GeoName, h HealthView) (a *geoAnswers, open bool) {
	a = &geoAnswers{sets: make([]*answerSet, len(r.names))}
	short := min(g.TTL, r.uncheckedTTL)
	var all []Edge
	var unchecked []bool
	anyUp := false
	for i, name := range r.names {
		if !g.allowed[i] {
			continue
		}
		all = append(all, r.edges[i]...)
		if h.DatacenterUnchecked(name) {
			if unchecked == nil {
				unchecked = make([]bool, len(r.names))
			}
			unchecked[i] = true
		}
		if usable := r.edgesOf(i, h.EdgeUsable); h.DatacenterUp(name) && len(usable) > 0 {
			ttl := g.TTL
			if len(r.edgesOf(i, h.EdgeUnchecked)) > 0 {
				ttl = short // an edge may join the answer soon
			}
			a.sets[i] = r.prepareSet(z, g, i, usable, ttl)
			anyUp = true
		}
	}
	a.failOpen = r.prepareSet(z, g, -1, all, g.TTL)
	switch {
	case unchecked == nil:
		return a, !anyUp
	case anyUp:
		a.unchecked = unchecked
		for _, s := range a.sets {
			if s != nil {
				s.short = r.prepareSet(z, g, s.dc, s.edges, short)
			}
		}
	default:
		for i, u := range unchecked {
			if u {
				maybe := r.edgesOf(i, func(e string) bool { return h.EdgeUsable(e) || h.EdgeUnchecked(e) })
				if len(maybe) > 0 {
					a.sets[i] = r.prepareSet(z, g, i, maybe, short)
				}
			}
		}
	}
	return a, false
}

// edgesOf returns the edges of data center i for which keep holds.
func (r *Responder) edgesOf(i int, keep func(name string) bool) []Edge {
	var es []Edge
	for _, e := range r.edges[i] {
		if keep(e.Name) {
			es = append(es, e)
		}
	}
	return es
}

// FailOpen lists the geo names answered with every edge because all of
// their data centers are down.
func (r *Responder) FailOpen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := []string{}
	for n, open := range r.failOpen {
		if open {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// prepareSet prepares the answers of a data center's edges with a TTL.
func (r *Responder) prepareSet(z *Zone, g *GeoName, dc int, edges []Edge, ttl uint32) *answerSet {
	s := &answerSet{dc: dc, ttl: ttl, edges: edges}
	for _, order := range rotations(edges) {
		for t, v6 := range []bool{false, true} {
			addrs := addrsOf(order, v6)
			s.addrs[t] = append(s.addrs[t], addrs)
			qtype := []uint16{dns.TypeA, dns.TypeAAAA}[t]
			m := r.prepared(g.Owner, qtype)
			r.resolve(m, z, g.Owner, qtype, func(*GeoName) ([]netip.Addr, uint32) { return addrs, ttl })
			wire, err := m.Pack()
			if err != nil {
				r.log.Error("prepare a geo answer", "name", g.Owner, "err", err)
				wire = nil
			}
			s.wire[t] = append(s.wire[t], wire)
		}
	}
	return s
}
