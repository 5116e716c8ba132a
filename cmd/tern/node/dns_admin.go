package node

import (
	"encoding/json"
	"net/http"

	"github.com/tern-cdn/tern/geodns"
)

// drainRoutes adds the drain API: POST /drain or /undrain with
// ?edge=NAME or ?datacenter=NAME. The admin guard in front of it checks
// the Host, the origin and the token.
func (n *dnsNode) drainRoutes(mux *http.ServeMux) {
	drain := func(drained bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			kind, name := geodns.DrainEdge, q.Get("edge")
			if dc := q.Get("datacenter"); dc != "" {
				kind, name = geodns.DrainDatacenter, dc
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
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
