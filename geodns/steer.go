package geodns

import (
	"net/netip"
	"sync/atomic"
)

// geoAnswers is a geo name's answers under one health state: for each data
// center that may answer, the edges that do. It is rebuilt on every change
// of health and swapped in whole.
type geoAnswers struct {
	sets     []*answerSet // by data center; nil when it is down or not allowed
	failOpen *answerSet   // every allowed data center's edges, when none is up
	// unchecked marks, by data center index, the data centers not checked yet while
	// others are up (nil once every one is checked): a client ranking one
	// ahead of the data center that answers gets the set's short variant.
	unchecked []bool
}

// answerSet is what one data center answers: rotations of its edges'
// addresses, each prepared as a wire response.
type answerSet struct {
	dc    int // -1 for fail open
	ttl   uint32
	edges []Edge
	// short is this set with the short TTL, while some data center is
	// unchecked (see geoAnswers.unchecked); else nil.
	short *answerSet
	// addrs[t][v] are the addresses of rotation v for qtype index t
	// (0 A, 1 AAAA); wire[t][v] the whole response for it (ID 0, question
	// lower-case, no OPT).
	addrs [2][][]netip.Addr
	wire  [2][][]byte
	next  atomic.Uint32
}

// pick returns the first data center in the ranking that answers; its
// short-TTL variant if an unchecked data center ranks ahead of it.
func (a *geoAnswers) pick(rk *Ranking) *answerSet {
	passed := false
	for _, i := range rk.Order {
		if s := a.sets[i]; s != nil {
			if passed && s.short != nil {
				return s.short
			}
			return s
		}
		passed = passed || (a.unchecked != nil && a.unchecked[i])
	}
	return a.failOpen
}

// rotation returns the next rotation index of a set.
func (s *answerSet) rotation() int {
	n := len(s.addrs[0])
	if n <= 1 {
		return 0
	}
	return int(s.next.Add(1) % uint32(n))
}

// qtypeIndex maps A and AAAA to 0 and 1, other types to -1.
func qtypeIndex(qtype uint16) int {
	switch qtype {
	case 1: // A
		return 0
	case 28: // AAAA
		return 1
	}
	return -1
}

// maxRotations bounds the rotations of one data center's edges.
const maxRotations = 64

// rotations orders edges for answers: in rotation v the edge listed first
// is chosen by smooth weighted round robin (nginx's), so over a cycle each
// edge leads in proportion to its weight; the others follow in cyclic order.
func rotations(edges []Edge) [][]Edge {
	if len(edges) == 0 {
		return [][]Edge{nil}
	}
	total := 0
	for _, e := range edges {
		total += e.Weight
	}
	n := min(total, maxRotations)
	current := make([]int, len(edges))
	out := make([][]Edge, 0, n)
	for range n {
		best := 0
		for i, e := range edges {
			current[i] += e.Weight
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		order := make([]Edge, 0, len(edges))
		for k := range edges {
			order = append(order, edges[(best+k)%len(edges)])
		}
		out = append(out, order)
	}
	return out
}

// addrsOf returns the addresses of one family of edges, in order.
func addrsOf(edges []Edge, v6 bool) []netip.Addr {
	var as []netip.Addr
	for _, e := range edges {
		for _, a := range e.Addrs {
			if a.Is6() == v6 {
				as = append(as, a)
			}
		}
	}
	return as
}
