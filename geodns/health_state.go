package geodns

// State returns the current state: an immutable snapshot, cheap enough to
// load for every DNS query. It is never nil.
func (h *Health) State() *HealthState { return h.state.Load() }

// HealthState is an immutable snapshot of which edges are usable and
// which data centers up, and of those not known yet.
type HealthState struct {
	idx                       *healthIndex
	edgeUsable, edgeUnchecked []bool
	dcUp, dcUnchecked         []bool
	version                   uint64
}

// EdgeUsable reports whether the edge is up by checks, not drained, and
// in a data center that is not drained. Unknown names are not usable.
func (s *HealthState) EdgeUsable(name string) bool {
	i, ok := s.idx.edges[name]
	return ok && s.edgeUsable[i]
}

// EdgeUnchecked reports whether the edge's first check has not ended yet
// (and it is not drained, nor its data center): it is not usable, nor
// known to be down.
func (s *HealthState) EdgeUnchecked(name string) bool {
	i, ok := s.idx.edges[name]
	return ok && s.edgeUnchecked[i]
}

// DatacenterUp reports whether the data center is not drained and has at
// least MinUp usable edges. Unknown names are down.
func (s *HealthState) DatacenterUp(name string) bool {
	i, ok := s.idx.dcs[name]
	return ok && s.dcUp[i]
}

// DatacenterUnchecked reports whether the data center is not up but would
// be if its unchecked edges passed: not known yet either way.
func (s *HealthState) DatacenterUnchecked(name string) bool {
	i, ok := s.idx.dcs[name]
	return ok && s.dcUnchecked[i]
}

// Version is 1 for the first state and grows by one with every change of
// an EdgeUsable, EdgeUnchecked, DatacenterUp or DatacenterUnchecked answer.
func (s *HealthState) Version() uint64 { return s.version }

func healthSameBools(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
