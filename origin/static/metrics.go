package static

import (
	"errors"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds every collector of the package.
type metrics struct {
	requests *prometheus.CounterVec // by status class
	bytes    prometheus.Counter
}

// statusClasses are the label values of tern_origin_requests_total.
var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tern",
			Subsystem: "origin",
			Name:      "requests_total",
			Help:      "Requests answered by the static origin, by status class (2xx, 4xx...).",
		}, []string{"code"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "tern",
			Subsystem: "origin",
			Name:      "response_bytes_total",
			Help:      "Response body bytes written by the static origin.",
		}),
	}
	if reg != nil {
		var err error
		if m.requests, err = register(reg, m.requests); err != nil {
			return nil, err
		}
		if m.bytes, err = register(reg, m.bytes); err != nil {
			return nil, err
		}
	}
	for _, c := range statusClasses[1:] {
		m.requests.WithLabelValues(c) // export zeros
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same name, so that several servers can share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(C); ok {
			return old, nil
		}
	}
	return c, err
}

func (m *metrics) observe(status int, bytes int64) {
	class := "5xx"
	if i := status/100 - 1; i >= 0 && i < len(statusClasses) {
		class = statusClasses[i]
	}
	m.requests.WithLabelValues(class).Inc()
	m.bytes.Add(float64(bytes))
}

// recorder is an http.ResponseWriter that remembers the status and counts the
// body bytes. It keeps io.ReaderFrom so file bodies can still use sendfile.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(src)
		r.bytes += n
		return n, err
	}
	return io.Copy(struct{ io.Writer }{r}, src) // hide ReadFrom: no recursion
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// code is the status sent, 200 if the handler wrote nothing.
func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
