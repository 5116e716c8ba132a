package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/origin"
)

// requestKind says what an upstream request is for.
type requestKind int

const (
	kindFill requestKind = iota // a GET whose response is shared and may be stored
	kindPass                    // the client's own request, forwarded as it is
)

// upstreamRequest builds the request sent upstream for r. A fill drops the
// client's conditional and range fields (the edge answers those itself from
// the whole response) and folds Accept-Encoding to what the cache key
// distinguishes. Forwarding fields are set by the edge, never taken from an
// untrusted client.
func (h *Handler) upstreamRequest(ctx context.Context, r *http.Request, s *Site, kind requestKind) *http.Request {
	u := *s.Origin
	// A shield adds the origin's base path itself.
	base, rawBase := "", ""
	if !h.cfg.Shielded {
		base, rawBase = strings.TrimSuffix(s.Origin.Path, "/"), strings.TrimSuffix(s.Origin.EscapedPath(), "/")
	}
	u.Path = base + r.URL.Path
	u.RawPath = ""
	if r.URL.RawPath != "" {
		u.RawPath = rawBase + r.URL.RawPath
	}
	// An h2 or h3 :path may hold bytes an HTTP/1.1 request line must not.
	u.RawQuery = cleanQuery(r.URL.RawQuery)
	u.Fragment, u.RawFragment = "", ""

	hdr := r.Header.Clone()
	if hdr == nil {
		hdr = make(http.Header)
	}
	removeHopHeaders(hdr)
	var kept map[string][]string
	for _, f := range s.KeyHeaders {
		if kept == nil {
			kept = make(map[string][]string, len(s.KeyHeaders))
		}
		if v := hdr.Values(f); len(v) > 0 {
			kept[http.CanonicalHeaderKey(f)] = v
		}
	}
	deleteAll(hdr, spoofableHeaders)
	method := r.Method
	if kind == kindFill {
		method = http.MethodGet
		deleteAll(hdr, conditionalHeaders)
		delete(hdr, "Cache-Control")
		delete(hdr, "Pragma")
		if ae := httpcache.NormalizeAcceptEncoding(hdr["Accept-Encoding"]); ae != "" {
			hdr["Accept-Encoding"] = []string{ae}
		} else {
			delete(hdr, "Accept-Encoding")
		}
	}
	host := normalizeHost(r.Host)
	h.setForwarding(hdr, r, host)
	// The site keys on these, so forwarding them cannot poison its cache.
	for k, v := range kept {
		hdr[k] = v
	}
	// The tiers' own signals never travel on: the fleet's token is added
	// again for a shield only (origin.Fleet.Sign), and a client's
	// Tern-Error means nothing.
	delete(hdr, origin.FleetHeader)
	delete(hdr, origin.ErrorHeader)
	h.setPurgeSeq(hdr)
	appendVia(hdr, h.via)

	out := &http.Request{
		Method:     method,
		URL:        &u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     hdr,
		Host:       host,
	}
	if !h.cfg.Shielded && s.OriginHost != "" {
		out.Host = s.OriginHost
	}
	if kind == kindPass && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		out.Body = r.Body
		out.ContentLength = r.ContentLength
	}
	return out.WithContext(ctx)
}

// setForwarding sets X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host
// and Forwarded. The fleet's own requests (an edge's, at its shield) keep
// the values the edge set: they describe the client, and the hop between
// tiers is the CDN's own. A trusted proxy's values are kept and appended
// to. Anyone else's are replaced.
func (h *Handler) setForwarding(hdr http.Header, r *http.Request, host string) {
	hdr["X-Forwarded-Host"] = []string{host}
	if h.fromFleet(r) && len(hdr["X-Forwarded-For"]) > 0 && len(hdr["X-Forwarded-Proto"]) > 0 && len(hdr["Forwarded"]) > 0 {
		return
	}
	ip := remoteIP(r)
	trusted := ip.IsValid() && h.trusted(ip)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	ipStr := ip.String()
	if trusted && len(hdr["X-Forwarded-For"]) > 0 {
		hdr["X-Forwarded-For"] = []string{strings.Join(hdr["X-Forwarded-For"], ", ") + ", " + ipStr}
	} else {
		hdr["X-Forwarded-For"] = []string{ipStr}
	}
	if !trusted || len(hdr["X-Forwarded-Proto"]) == 0 {
		hdr["X-Forwarded-Proto"] = []string{proto}
	}
	fwd := "for=" + forwardedNode(ip) + ";host=\"" + host + "\";proto=" + proto
	if trusted && len(hdr["Forwarded"]) > 0 {
		fwd = strings.Join(hdr["Forwarded"], ", ") + ", " + fwd
	}
	hdr["Forwarded"] = []string{fwd}
}

func (h *Handler) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func remoteIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// forwardedNode formats an address for Forwarded (RFC 7239 §6).
func forwardedNode(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "unknown"
	case ip.Is6():
		return "\"[" + ip.String() + "]\""
	}
	return ip.String()
}

func appendVia(h http.Header, via string) {
	if old := h["Via"]; len(old) > 0 {
		h["Via"] = []string{strings.Join(old, ", ") + ", " + via}
		return
	}
	h["Via"] = []string{via}
}

// looped reports whether a request already passed through this node. A
// request from outside the fleet (a client; an origin that sends requests
// back into the CDN) loops when any Via entry names this node: a client
// that claims so gets the 508 alone, before any shared fetch. From the
// fleet (an edge, at its shield), only the entry the edge added itself,
// the last, is the fleet's: the ones before it the edge took from its
// client, and they must not make the shield refuse a fetch that other
// clients share.
func (h *Handler) looped(r *http.Request) bool {
	vias := r.Header["Via"]
	if len(vias) == 0 {
		return false
	}
	if h.fromFleet(r) {
		last := vias[len(vias)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		return strings.TrimSpace(last) == h.via
	}
	for _, v := range vias {
		for _, hop := range strings.Split(v, ",") {
			if strings.TrimSpace(hop) == h.via {
				return true
			}
		}
	}
	return false
}

// An exchange is one request upstream and the context that bounds it:
// UpstreamTotalTimeout over the whole exchange, body included, and a
// cancel with a cause (origin.ErrHeaderTimeout from roundTrip, errAbandoned
// for a fill nobody waits for any more). Every upstream fetch (a fill, a
// slice, sparse ranges, a pass) is one: newExchange, send, end.
type exchange struct {
	h           *Handler
	ctx         context.Context
	cancel      context.CancelCauseFunc
	cancelTotal context.CancelFunc
	req         *http.Request
}

// newExchange builds the upstream request of kind for r, bound to parent
// and the upstream timeouts. iw, when not nil, receives the request's 1xx
// responses.
func (h *Handler) newExchange(parent context.Context, r *http.Request, s *Site, kind requestKind, iw *interimWriter) *exchange {
	ctx, cancelTotal := context.WithTimeout(parent, h.cfg.UpstreamTotalTimeout)
	ctx, cancel := context.WithCancelCause(ctx)
	reqCtx := ctx
	if iw != nil {
		reqCtx = iw.trace(ctx)
	}
	return &exchange{h: h, ctx: ctx, cancel: cancel, cancelTotal: cancelTotal, req: h.upstreamRequest(reqCtx, r, s, kind)}
}

// send sends the exchange's request (again, after a change to its
// header) and returns the response.
func (x *exchange) send() (*http.Response, error) { return x.h.roundTrip(x.req, x.cancel) }

// end releases the exchange, ending its request if it still runs.
func (x *exchange) end() {
	x.cancel(nil)
	x.cancelTotal()
}

// roundTrip sends req upstream, bounding the wait for response headers by
// the upstream timeout, and counts it. The timeout cancels req's context
// with the tier contract's cause, origin.ErrHeaderTimeout, so the Router
// counts it against the upstream; the error returned is that cause.
func (h *Handler) roundTrip(req *http.Request, cancel context.CancelCauseFunc) (*http.Response, error) {
	timer := time.AfterFunc(h.cfg.UpstreamTimeout, func() { cancel(origin.ErrHeaderTimeout) })
	start := time.Now()
	resp, err := h.cfg.Upstream.RoundTrip(req)
	timedOut := !timer.Stop()
	h.m.upstreamSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		h.m.upstreamRequests.WithLabelValues("error").Inc()
		if timedOut {
			err = origin.ErrHeaderTimeout
		}
		return nil, err
	}
	h.m.upstreamRequests.WithLabelValues(statusClass(resp.StatusCode)).Inc()
	return resp, nil
}

// errorCode maps an upstream failure to the status code a client gets.
func errorCode(err error) int {
	var te *origin.TierError
	if errors.As(err, &te) {
		return te.Code
	}
	var ne net.Error
	if errors.Is(err, origin.ErrHeaderTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// failureReason is the Tern-Error reason of an upstream failure: a
// shield's own, passed on, or what err says of the origin.
func failureReason(err error) string {
	var te *origin.TierError
	if errors.As(err, &te) {
		if _, known := origin.ClassifyReason(te.Reason); known {
			return te.Reason
		}
		return origin.ReasonUpstreamError
	}
	return origin.FailureReason(err)
}

// chainCacheStatus is the Cache-Status of a response: the upstream
// caches' entries first, then this cache's own (RFC 9211 §2).
func chainCacheStatus(upstream, own string) string {
	if upstream == "" {
		return own
	}
	return upstream + ", " + own
}

// upstreamErrorText is what a client is told of an upstream failure: the
// details (addresses, errors) go to the log, not to the client.
func upstreamErrorText(code int) string {
	if code == http.StatusGatewayTimeout {
		return "the upstream server did not answer in time"
	}
	return "the upstream server could not be reached"
}

// cleanResponseHeader prepares an upstream response's header for clients
// and the store: hop-by-hop fields, Alt-Svc and the tiers' Tern-Error
// removed, CDN-only fields removed at a client-facing node (the surrogate
// keys too, unless s sends them), this node added to Via. Entries take
// their surrogate keys from the header before it is cleaned.
func (h *Handler) cleanResponseHeader(hdr http.Header, s *Site) (upstreamCacheStatus string) {
	removeHopHeaders(hdr)
	delete(hdr, origin.ErrorHeader)
	upstreamCacheStatus = strings.Join(hdr["Cache-Status"], ", ")
	delete(hdr, "Cache-Status")
	if h.cfg.ClientFacing {
		deleteAll(hdr, targetedHeaders)
		if !s.SendSurrogateKeys {
			deleteAll(hdr, httpcache.TagFields)
		}
	}
	appendVia(hdr, h.via)
	return upstreamCacheStatus
}
