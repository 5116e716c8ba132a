package edge

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Cache results, the values of the "cache" label.
const (
	resultHit         = "hit"         // fresh from the store
	resultStale       = "stale"       // served stale (max-stale, stale-while-revalidate, stale-if-error)
	resultRevalidated = "revalidated" // stored copy confirmed by upstream (304)
	resultMiss        = "miss"        // fetched upstream for this or a collapsed request
	resultPass        = "pass"        // not cacheable: forwarded as it is
	resultError       = "error"       // refused or failed before any upstream answer
	resultRedirect    = "redirect"    // sent to HTTPS
)

type metrics struct {
	requests         *prometheus.CounterVec
	responseBytes    prometheus.Counter
	upstreamRequests *prometheus.CounterVec
	upstreamSeconds  prometheus.Histogram
	collapsed        prometheus.Counter
	invalidations    prometheus.Counter
	backgroundErrors prometheus.Counter
	sliceFetches     prometheus.Counter
	// byProto counts requests by HTTP major version (index 1..3).
	byProto         [4]prometheus.Counter
	sliceMismatches prometheus.Counter
	abandonedFills  prometheus.Counter
	abandonClosed   prometheus.Counter
	sparseFetches   prometheus.Counter
	// Compression at the edge (compress.go).
	compressions    *prometheus.CounterVec
	compressSeconds *prometheus.HistogramVec
	codedHits       *prometheus.CounterVec
	codedSaved      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	protos := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tern", Subsystem: "edge", Name: "requests_by_protocol_total",
		Help: "Client requests by HTTP version (1 = HTTP/1.x, 2 = HTTP/2, 3 = HTTP/3).",
	}, []string{"version"})
	m := &metrics{
		compressions: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "compressions_total",
			Help: "Objects compressed for clients, by coding and result (stored, not-stored, no-gain, error).",
		}, []string{"coding", "result"}),
		compressSeconds: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "tern", Subsystem: "edge", Name: "compression_seconds",
			Help:    "Time to compress one object, by coding.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
		}, []string{"coding"}),
		codedHits: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "compressed_hits_total",
			Help: "Hits served from a stored compressed variant, by coding.",
		}, []string{"coding"}),
		codedSaved: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "compression_saved_bytes_total",
			Help: "Body bytes not sent because a hit was served compressed (identity length minus compressed length), by coding.",
		}, []string{"coding"}),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "requests_total",
			Help: "Client requests by cache result and status class.",
		}, []string{"cache", "code"}),
		responseBytes: f.NewCounter(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "response_bytes_total",
			Help: "Response body bytes written to clients.",
		}),
		upstreamRequests: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "upstream_requests_total",
			Help: "Requests sent upstream by status class (\"error\" when none came back).",
		}, []string{"code"}),
		upstreamSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tern", Subsystem: "edge", Name: "upstream_duration_seconds",
			Help:    "Time from sending an upstream request to its response headers.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}),
		collapsed: f.NewCounter(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "collapsed_waiters_total",
			Help: "Requests that joined another request's upstream fetch instead of making their own.",
		}),
		invalidations: f.NewCounter(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "invalidations_total",
			Help: "Cache keys invalidated by unsafe requests (RFC 9111 §4.4).",
		}),
		backgroundErrors: f.NewCounter(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "background_revalidation_errors_total",
			Help: "Stale-while-revalidate refreshes that failed.",
		}),
		sliceFetches: f.NewCounter(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "slice_fetches_total",
			Help: "Slices of large objects fetched from upstream.",
		}),
		sliceMismatches: f.NewCounter(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "slice_mismatches_total",
			Help: "Slices that came from another representation than their object's head, which was then dropped.",
		}),
		abandonedFills: f.NewCounter(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "abandoned_fills_total",
			Help: "Upstream fetches cancelled because every client waiting for them had gone.",
		}),
		abandonClosed: f.NewCounter(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "abandon_budget_closed_connections_total",
			Help: "Client connections closed for abandoning more fills than their budget.",
		}),
		sparseFetches: f.NewCounter(prometheus.CounterOpts{
			Namespace: "tern", Subsystem: "edge", Name: "sparse_range_fetches_total",
			Help: "Upstream fetches of just the bytes a multi-range request needs from a slice not stored, instead of the whole slice.",
		}),
	}
	for v := 1; v <= 3; v++ {
		m.byProto[v] = protos.WithLabelValues(strconv.Itoa(v))
	}
	return m
}

// statusClass turns 204 into "2xx"; the label set stays small.
func statusClass(code int) string {
	switch {
	case code >= 100 && code < 600:
		return [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}[code/100-1]
	}
	return "other"
}

// StoreStats is what a store reports for the store gauges.
type StoreStats interface {
	Bytes() int64
	MaxBytes() int64
	Objects() int64
}

// RegisterStoreMetrics exports a store's size as gauges.
func RegisterStoreMetrics(reg prometheus.Registerer, s StoreStats) {
	f := promauto.With(reg)
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tern", Subsystem: "edge", Name: "store_bytes",
		Help: "Bytes held by the memory store.",
	}, func() float64 { return float64(s.Bytes()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tern", Subsystem: "edge", Name: "store_capacity_bytes",
		Help: "The memory store's byte budget.",
	}, func() float64 { return float64(s.MaxBytes()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "tern", Subsystem: "edge", Name: "store_objects",
		Help: "Entries held by the memory store (approximate).",
	}, func() float64 { return float64(s.Objects()) })
}
