package geodns

import "time"

// HealthStatus is the state of every data center and edge, for the admin
// endpoint; data centers and edges are in configuration order.
type HealthStatus struct {
	Datacenters []DatacenterHealthStatus `json:"datacenters"`
}

// DatacenterHealthStatus is one data center in a HealthStatus.
type DatacenterHealthStatus struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
	// Unchecked: not up, but would be if the edges not checked yet
	// passed (just after a start); answered with a short TTL.
	Unchecked   bool               `json:"unchecked"`
	Drained     bool               `json:"drained"`
	MinUp       int                `json:"min_up"`
	EdgesUsable int                `json:"edges_usable"`
	Edges       []EdgeHealthStatus `json:"edges"`
}

// EdgeHealthStatus is one edge in a HealthStatus.
type EdgeHealthStatus struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Checked is false until the first check ends: the edge is then
	// neither healthy nor down.
	Checked bool `json:"checked"`
	// Healthy is the edge's state by checks alone.
	Healthy bool `json:"healthy"`
	// Drained is the edge's own drain, not its data center's.
	Drained bool `json:"drained"`
	// Usable is what DNS answers use: healthy, not drained, data center
	// not drained.
	Usable            bool `json:"usable"`
	ConsecutivePasses int  `json:"consecutive_passes"`
	ConsecutiveFails  int  `json:"consecutive_fails"`
	// LastError is why the last check failed; empty if it passed.
	LastError string `json:"last_error,omitempty"`
	// LastCheck is when the last check ended; absent before the first.
	LastCheck time.Time `json:"last_check,omitzero"`
	// Since is when Healthy or Drained last changed (at first, when the
	// Health was made).
	Since time.Time `json:"since"`
	// Flaps counts the edge's recent flaps (downs after being up less
	// than the flap window), halved for every window it stays up.
	Flaps int `json:"flaps"`
	// HeldUntil: while set, the edge is held down for flapping and
	// passing checks do not bring it up before then.
	HeldUntil time.Time `json:"held_until,omitzero"`
}

// Status returns the state of every data center and edge.
func (h *Health) Status() HealthStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.state.Load()
	now := h.now()
	st := HealthStatus{Datacenters: make([]DatacenterHealthStatus, 0, len(h.dcs))}
	for i, d := range h.dcs {
		ds := DatacenterHealthStatus{
			Name:        d.name,
			Up:          s.dcUp[i],
			Unchecked:   s.dcUnchecked[i],
			Drained:     d.drained,
			MinUp:       d.minUp,
			EdgesUsable: d.usable(s),
			Edges:       make([]EdgeHealthStatus, 0, len(d.edges)),
		}
		for _, j := range d.edges {
			e := h.edges[j]
			ds.Edges = append(ds.Edges, EdgeHealthStatus{
				Name:              e.name,
				URL:               e.url,
				Checked:           e.checked,
				Healthy:           e.healthy,
				Drained:           e.drained,
				Usable:            s.edgeUsable[j],
				ConsecutivePasses: e.passes,
				ConsecutiveFails:  e.fails,
				LastError:         e.lastErr,
				LastCheck:         e.lastCheck.UTC(),
				Since:             e.since.UTC(),
				Flaps:             e.flap.decayed(now, h.cfg.FlapWindow),
				HeldUntil:         e.flap.held(now).UTC(),
			})
		}
		st.Datacenters = append(st.Datacenters, ds)
	}
	return st
}
