package origin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Results, the values of the "result" label of requests_total.
const (
	resultOK       = "ok"       // an answer was returned
	resultFailover = "failover" // failed; the next candidate was tried
	resultError    = "error"    // failed; the failure was returned
)

// directPool labels requests sent to the request's own URL, when there is
// no origin pool.
const directPool = "direct"

// Router is an edge's upstream RoundTripper. For each request it ranks
// the shields by rendezvous hashing on RequestKey, tries the available
// ones in that order, then the available upstreams of the site's origin
// pool in order (or the request's own URL when there is no pool), and if
// none at all is available, the first candidate anyway: better an attempt
// than a certain failure. See RoundTrip for when it moves on.
//
// A Router owns no goroutines; the pools' owner runs and closes them.
type Router struct {
	shields   *Pool
	origins   func(*http.Request) *Pool
	transport http.RoundTripper
	self      string // hostPortKey of this node's listen address
	log       *slog.Logger
	m         *routerMetrics
	seen      sync.Map // pool name → *Pool: origin pools routed to, for Status
}

// NewRouter returns a Router over shields (may be nil or empty) and the
// origin pool origins returns for a request (nil func or nil pool: the
// request's URL as it is), sending through transport. self is this node's
// own listen address (host:port or a URL); an upstream at that address is
// never selected. reg (nil: none) gets the metrics; log may be nil.
func NewRouter(shields *Pool, origins func(*http.Request) *Pool, transport http.RoundTripper, self string, reg prometheus.Registerer, log *slog.Logger) *Router {
	if transport == nil {
		transport = NewTransport(TransportConfig{})
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newRouterMetrics(reg)
	if err != nil {
		log.Error("origin: router metrics not registered", "err", err)
		m, _ = newRouterMetrics(nil)
	}
	r := &Router{shields: shields, origins: origins, transport: transport, log: log, m: m}
	if self != "" {
		r.self = hostPortKey(self)
	}
	return r
}

type role uint8

const (
	roleShield role = iota
	roleOrigin      // an upstream of the site's origin pool
	roleDirect      // the request's own URL
)

type candidate struct {
	u    *Upstream
	pool *Pool // nil for roleDirect
	role role
}

func (c *candidate) poolName() string {
	if c.pool == nil {
		return directPool
	}
	return c.pool.name
}

// verdict is what an attempt's outcome means for the request.
type verdict uint8

const (
	answered     verdict = iota // return it
	failed                      // the upstream failed: try the next candidate
	originDown                  // a shield could not reach the origin: try the origin pool
	originFailed                // the origin failed a shield's request: never ask it again
	notCached                   // a cache-only attempt found nothing: try the next candidate
)

// cacheOnlyDirective is added to the requests sent to the remaining shields
// once a shield has reported the origin unreachable: they answer from their
// caches or with a 504 (ErrorHeader "only-if-cached"), and never ask the
// origin themselves.
const cacheOnlyDirective = "only-if-cached"

// RoundTrip sends req to the first candidate that answers.
//
// It moves on to the next candidate after a transport error (refused,
// reset, timeout…); a 5xx from a shield carrying ErrorHeader (the shield
// itself failed, see ClassifyReason); or a 502, 503 or 504 from an origin
// of a pool with more than one upstream. A shield's 5xx without
// ErrorHeader is the origin's answer and is returned, and so is one whose
// reason is an answer (a loop, a refused request). When a shield reports
// that the origin failed, the remaining shields are asked from their
// caches only; when it could not reach the origin at all, the origin pool
// is tried after them, but when the origin got the request and failed or
// timed out, it is not asked again: that would only double its load.
// Neither counts against the shield. ErrorHeader is deleted from every
// response that is not a shield's.
//
// Only a replayable request is sent again: GET, HEAD or OPTIONS without a
// body or with GetBody. Any other request moves on only when its
// connection could not even be made (nothing was sent) and its body, if
// any, can be re-created with GetBody; otherwise its first failure is
// returned. When every attempt fails the last failure is returned: a
// failing response as it is, else the error. Attempts stop when req's
// context is done.
//
// Each failed attempt counts against its upstream's passive health, each
// answer resets it. The path and query of req are kept; the scheme and
// host become the upstream's; req.Host is kept (for a shield whose
// request has none, it is set to req.URL's host so the shield can find the
// site).
func (r *Router) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	cands := r.candidates(req)
	if len(cands) == 0 {
		closeBody(req)
		return nil, errors.New("origin: no upstream to send the request to")
	}
	rewindable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	replayable := rewindable && (req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions)

	var (
		prev      *candidate // the last failed attempt, not yet counted
		prevResp  *http.Response
		prevErr   error
		attempts  int
		cacheOnly bool // a shield reported the origin down
		noOrigin  bool // a shield reported the origin failed
	)
	for i := range cands {
		c := &cands[i]
		if noOrigin && c.role != roleShield {
			break
		}
		probe, ok := c.u.acquire()
		if !ok {
			continue
		}
		if prev != nil {
			if err := ctx.Err(); err != nil {
				c.u.release(probe)
				return r.giveUp(prev, prevResp, fmt.Errorf("origin: %w (after %s: %w)", err, prev.u.Name, failure(prevResp, prevErr)))
			}
		}
		out, err := r.rewrite(req, c, attempts > 0)
		if err != nil {
			c.u.release(probe)
			break
		}
		// Once a shield has reported the origin down, the other shields
		// may still hold the object (keys move to their next shield while
		// their home shield is down, and a restarted shield comes back
		// empty): ask them from their caches only. The failure that led
		// here stays the one to return if they do not have it.
		askCache := cacheOnly && c.role == roleShield
		if askCache {
			out.Header = out.Header.Clone()
			out.Header.Add("Cache-Control", cacheOnlyDirective)
		}
		settle := func() {
			if prev != nil {
				r.m.requests.WithLabelValues(prev.poolName(), prev.u.Name, resultFailover).Inc()
				r.m.failovers.WithLabelValues(prev.poolName()).Inc()
				if prevResp != nil {
					prevResp.Body.Close()
				}
				prev, prevResp, prevErr = nil, nil, nil
			}
		}
		if !askCache {
			settle()
		}
		attempts++
		resp, v, err := r.attempt(ctx, out, c, probe, askCache)
		if v == notCached {
			resp.Body.Close()
			continue
		}
		settle()
		if v == answered {
			r.m.requests.WithLabelValues(c.poolName(), c.u.Name, resultOK).Inc()
			return resp, nil
		}
		prev, prevResp, prevErr = c, resp, err
		if v == originDown || v == originFailed {
			cacheOnly = true
		}
		noOrigin = noOrigin || v == originFailed
		if ctx.Err() != nil || !(replayable || rewindable && isDialError(err)) {
			break
		}
	}
	if attempts == 0 {
		// Nothing is available: try the first candidate anyway.
		c := &cands[0]
		out, err := r.rewrite(req, c, false)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, v, err := r.attempt(ctx, out, c, false, false)
		if v == answered {
			r.m.requests.WithLabelValues(c.poolName(), c.u.Name, resultOK).Inc()
			return resp, nil
		}
		prev, prevResp, prevErr = c, resp, err
	}
	return r.giveUp(prev, prevResp, prevErr)
}

// attempt sends out to c and records the outcome in c's passive health.
func (r *Router) attempt(ctx context.Context, out *http.Request, c *candidate, probe, cacheOnly bool) (*http.Response, verdict, error) {
	resp, err := r.transport.RoundTrip(out)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(context.Cause(ctx), ErrHeaderTimeout) {
			// The request was abandoned: not the upstream's fault.
			c.u.release(probe)
		} else if c.role != roleDirect {
			c.u.failed(probe)
		}
		return nil, failed, fmt.Errorf("origin: %s %s: %w", c.poolName(), c.u.Name, err)
	}
	if c.role != roleShield {
		// Only a shield of the fleet marks its own errors: an origin's
		// ErrorHeader is a forgery, or another CDN's.
		delete(resp.Header, ErrorHeader)
	}
	v := judge(c, resp)
	if cacheOnly && v == answered && resp.StatusCode == http.StatusGatewayTimeout && resp.Header.Get(ErrorHeader) == ReasonOnlyIfCached {
		v = notCached // the shield answered: not a failure
	}
	if c.role != roleDirect {
		if v == failed {
			c.u.failed(probe)
		} else {
			c.u.succeeded(probe) // a shield that reports the origin down, or a cache miss, did its job
		}
	}
	return resp, v, nil
}

// judge classifies a response from c.
func judge(c *candidate, resp *http.Response) verdict {
	if resp.StatusCode < 500 {
		return answered
	}
	switch c.role {
	case roleShield:
		reason := resp.Header.Get(ErrorHeader)
		if reason == "" { // the origin's answer
			return answered
		}
		switch kind, _ := ClassifyReason(reason); kind {
		case Answered:
			return answered
		case OriginUnreachable:
			return originDown
		case OriginFailed:
			return originFailed
		}
		return failed
	case roleOrigin:
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if len(c.pool.ups) > 1 {
				return failed
			}
		}
	}
	return answered
}

// giveUp returns the last failure: a failing response as it is, else the
// error.
func (r *Router) giveUp(c *candidate, resp *http.Response, err error) (*http.Response, error) {
	r.m.requests.WithLabelValues(c.poolName(), c.u.Name, resultError).Inc()
	if resp != nil && err == nil {
		return resp, nil
	}
	if resp != nil {
		resp.Body.Close()
	}
	return nil, err
}

// failure describes a failed attempt as an error.
func failure(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%s (%s %q)", resp.Status, ErrorHeader, resp.Header.Get(ErrorHeader))
}

// candidates lists where req may go, in order: the shields by rank, then
// the origin pool's upstreams (or the request's URL), without self.
func (r *Router) candidates(req *http.Request) []candidate {
	var out []candidate
	if r.shields != nil && len(r.shields.ups) > 0 {
		out = make([]candidate, 0, len(r.shields.ups)+2)
		for _, u := range rankHash(xxhash.Sum64String(RequestKey(req)), r.shields.ups) {
			if !r.isSelf(u.URL.Host) {
				out = append(out, candidate{u: u, pool: r.shields, role: roleShield})
			}
		}
	}
	var op *Pool
	if r.origins != nil {
		op = r.origins(req)
	}
	if op == nil || len(op.ups) == 0 {
		if !r.isSelf(req.URL.Host) {
			out = append(out, candidate{u: &Upstream{Name: directPool, URL: req.URL}, role: roleDirect})
		}
		return out
	}
	if old, ok := r.seen.Load(op.name); !ok || old != op {
		r.seen.Store(op.name, op)
	}
	for _, u := range op.ups {
		if !r.isSelf(u.URL.Host) {
			out = append(out, candidate{u: u, pool: op, role: roleOrigin})
		}
	}
	return out
}

// rewrite returns the request sent to c: a shallow copy of req with the
// upstream's scheme and host. A resent request gets a fresh body.
func (r *Router) rewrite(req *http.Request, c *candidate, resend bool) (*http.Request, error) {
	out := new(http.Request)
	*out = *req
	if c.role != roleDirect {
		u := *req.URL
		u.Scheme, u.Host = c.u.URL.Scheme, c.u.URL.Host
		out.URL = &u
		if c.role == roleShield && out.Host == "" {
			out.Host = req.URL.Host
		}
	}
	if resend && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("origin: re-creating the request body: %w", err)
		}
		out.Body = body
	}
	return out, nil
}

func (r *Router) isSelf(hostport string) bool {
	return r.self != "" && hostPortKey(hostport) == r.self
}

// hostPortKey normalizes an address (host:port or a URL) for comparison.
func hostPortKey(s string) string {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			s = u.Host
		}
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
	}
	return strings.ToLower(s)
}

// isDialError reports whether err says no connection could be made, so
// nothing of the request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// Status returns the state of the shields and of every origin pool the
// router has sent requests to, pool by pool.
func (r *Router) Status() []UpstreamStatus {
	var out []UpstreamStatus
	if r.shields != nil {
		out = append(out, r.shields.Status()...)
	}
	var pools []*Pool
	r.seen.Range(func(_, v any) bool {
		pools = append(pools, v.(*Pool))
		return true
	})
	slices.SortFunc(pools, func(a, b *Pool) int { return strings.Compare(a.name, b.name) })
	for _, p := range pools {
		out = append(out, p.Status()...)
	}
	return out
}
