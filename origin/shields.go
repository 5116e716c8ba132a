package origin

import (
	"fmt"
	"net/http"
)

// NewShields returns a Router over the shields at the given base URLs
// (http://host:port), each named by its host:port, with default health
// settings, no active checks, no metrics, and the request's own URL as
// the origin.
//
// Deprecated: build a Pool with NewPool (names, checks, metrics) and a
// Router with NewRouter; this remains until the edge is wired to them.
func NewShields(bases []string, transport http.RoundTripper) (*Router, error) {
	if len(bases) == 0 {
		return nil, fmt.Errorf("origin: no shields")
	}
	ups := make([]UpstreamConfig, len(bases))
	for i, b := range bases {
		ups[i] = UpstreamConfig{URL: b}
	}
	p, err := NewPool("shields", ups, HealthConfig{}, transport, nil, nil)
	if err != nil {
		return nil, err
	}
	return NewRouter(p, nil, transport, "", nil, nil), nil
}
