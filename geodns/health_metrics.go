package geodns

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// healthMetrics are the health collectors; labels are names from the
// topology, never hosts or URLs.
type healthMetrics struct {
	edgeHealthy, edgeDrained *prometheus.GaugeVec   // datacenter, edge
	edgeDowns, edgeFlaps     *prometheus.CounterVec // datacenter, edge
	edgeHeld                 *prometheus.GaugeVec   // datacenter, edge
	dcUp, dcDrained          *prometheus.GaugeVec   // datacenter
	checks                   *prometheus.CounterVec // edge, result
	failovers                *prometheus.CounterVec // datacenter
}

// newHealthMetrics registers the collectors with reg; with a nil reg they
// are made but not registered.
func newHealthMetrics(reg prometheus.Registerer) *healthMetrics {
	f := promauto.With(reg)
	return &healthMetrics{
		edgeHealthy: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tern_dns_edge_healthy",
			Help: "1 if the edge is up by its health checks, else 0 (drains aside).",
		}, []string{"datacenter", "edge"}),
		edgeDrained: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tern_dns_edge_drained",
			Help: "1 if an operator drained the edge, else 0.",
		}, []string{"datacenter", "edge"}),
		edgeDowns: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tern_dns_edge_downs_total",
			Help: "Times the edge went down by its health checks.",
		}, []string{"datacenter", "edge"}),
		edgeFlaps: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tern_dns_edge_flaps_total",
			Help: "Times the edge went down after being up for less than the flap window (each doubles its hold-down).",
		}, []string{"datacenter", "edge"}),
		edgeHeld: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tern_dns_edge_flap_held",
			Help: "1 while the edge is held down for flapping (passing checks do not bring it up), else 0.",
		}, []string{"datacenter", "edge"}),
		dcUp: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tern_dns_datacenter_up",
			Help: "1 if the data center is in answers (not drained, at least min_up usable edges), else 0.",
		}, []string{"datacenter"}),
		dcDrained: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tern_dns_datacenter_drained",
			Help: "1 if an operator drained the data center, else 0.",
		}, []string{"datacenter"}),
		checks: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tern_dns_health_checks_total",
			Help: "Edge health checks by result (pass, fail).",
		}, []string{"edge", "result"}),
		failovers: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tern_dns_datacenter_failovers_total",
			Help: "Times the data center went from up to down (failed checks or a drain).",
		}, []string{"datacenter"}),
	}
}

func healthFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
