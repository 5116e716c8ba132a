package origin

import (
	"fmt"
	"net/http"
	"net/url"
)

// Shields sends each request to a shield instead of the origin its URL
// names; the Host header (the site) is left as it is, so the shield finds
// the site and fetches from the origin itself.
//
// For now the first shield takes every request; shield selection and
// failover come with the shield tier.
type Shields struct {
	targets   []*url.URL
	transport http.RoundTripper
}

// NewShields returns a RoundTripper over the shields at the given base
// URLs (http://host:port), sending through transport.
func NewShields(bases []string, transport http.RoundTripper) (*Shields, error) {
	if len(bases) == 0 {
		return nil, fmt.Errorf("origin: no shields")
	}
	s := &Shields{transport: transport}
	for _, b := range bases {
		u, err := url.Parse(b)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("origin: bad shield URL %q", b)
		}
		s.targets = append(s.targets, u)
	}
	return s, nil
}

// RoundTrip sends req to the shield.
func (s *Shields) RoundTrip(req *http.Request) (*http.Response, error) {
	t := s.targets[0]
	out := *req
	u := *req.URL
	u.Scheme, u.Host = t.Scheme, t.Host
	out.URL = &u
	return s.transport.RoundTrip(&out)
}
