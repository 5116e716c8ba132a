package geodns

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is the admin /status document of a dns node.
type Status struct {
	Node string `json:"node"`
	DNS  string `json:"dns"`
	// FailOpen lists the geo names answered with every edge because all
	// their data centers are down.
	FailOpen []string     `json:"fail_open"`
	Health   HealthStatus `json:"health"`
}

// adminHandler serves /metrics, /healthz, /readyz, /status and the drain
// API: POST /drain or /undrain with ?edge=NAME or ?datacenter=NAME. An
// admin.Guard in front of it checks the Host, the origin and the token.
func (n *Node) adminHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !n.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, Status{
			Node: n.Name, DNS: n.Listen, FailOpen: n.resp.FailOpen(), Health: n.health.Status(),
		})
	})
	drain := func(drained bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			kind, name := DrainEdge, q.Get("edge")
			if dc := q.Get("datacenter"); dc != "" {
				kind, name = DrainDatacenter, dc
			}
			if name == "" || (q.Get("edge") != "" && q.Get("datacenter") != "") {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give one of ?edge=NAME or ?datacenter=NAME"})
				return
			}
			if err := n.health.SetDrain(kind, name, drained); err != nil {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
				return
			}
			n.log.Warn("operator drain", "kind", kind, "name", name, "drained", drained)
			writeJSON(w, http.StatusOK, map[string]any{kind: name, "drained": drained})
		}
	}
	mux.HandleFunc("POST /drain", drain(true))
	mux.HandleFunc("POST /undrain", drain(false))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
