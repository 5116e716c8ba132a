package origin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
)

// The contract between the tiers of the fleet: how an edge proves to a
// shield that it belongs to the fleet, and how a shield tells an edge that
// an answer is its own error. Both fields are the fleet's alone: a node
// deletes FleetHeader from every request it forwards and ErrorHeader from
// every response that does not come from a shield, so neither a client
// nor a tenant's origin can send one that the fleet believes.

// ErrorHeader is the response field with which a Tern node marks an error
// it generated itself; its value is the reason. A 5xx without it is the
// origin's own answer, passed through. A node sends it only to an
// authenticated peer (an edge of the fleet).
const ErrorHeader = "Tern-Error"

// FleetHeader is the request field with which an edge authenticates itself
// to a shield (see Fleet).
const FleetHeader = "Tern-Fleet"

// PurgeSeqHeader is the request field with which an edge tells its shield
// the last purge (stream sequence) it applied: a shield that has not
// applied that one yet answers from upstream, not from a copy the edge has
// already purged. Believed only with FleetHeader; a node deletes it from
// every request it forwards and sets its own.
const PurgeSeqHeader = "Tern-Purge-Seq"

// ErrHeaderTimeout is the context cause with which a Router's caller
// cancels a request whose upstream sent no response headers in time (an
// edge's UpstreamTimeout): the Router counts an attempt cut off by it
// against the upstream, unlike one whose client went away, and
// FailureReason gives it ReasonUpstreamTimeout. The cause is the one
// signal of the contract that travels inside a node, not on the wire.
var ErrHeaderTimeout = errors.New("upstream did not answer in time")

// The reasons a Tern node gives in ErrorHeader. Every reason a node sends
// is one of these, and Reasons lists them all.
const (
	// ReasonOriginUnreachable: the shield could make no connection to the
	// origin, so nothing of the request reached it.
	ReasonOriginUnreachable = "origin-unreachable"
	// ReasonUpstreamError: the origin got the request and failed (reset
	// the connection, sent a malformed response).
	ReasonUpstreamError = "upstream-error"
	// ReasonUpstreamTimeout: the origin did not answer in time.
	ReasonUpstreamTimeout = "upstream-timeout"
	// ReasonMustRevalidate: the stored response must be revalidated and
	// the origin failed.
	ReasonMustRevalidate = "must-revalidate"
	// ReasonOnlyIfCached: a cache-only request found nothing usable.
	ReasonOnlyIfCached = "only-if-cached"
	// ReasonLoop: the request already passed through this node.
	ReasonLoop = "loop"
	// ReasonUnknownHost, ReasonMethod and ReasonURI refuse a request.
	ReasonUnknownHost = "unknown-host"
	ReasonMethod      = "method"
	ReasonURI         = "uri"
	// ReasonSNIMismatch and ReasonTLSVersion refuse a request whose Host
	// names another site than its TLS connection's SNI, or whose TLS
	// version is below its site's minimum (421).
	ReasonSNIMismatch = "sni-mismatch"
	ReasonTLSVersion  = "tls-version"
	// ReasonAbandonBudget: the requester's network started and abandoned
	// too many fills; it gets no new one for a while.
	ReasonAbandonBudget = "abandon-budget"
	// ReasonStoreError: the node's own store failed it.
	ReasonStoreError = "store-error"
)

// Reasons returns every reason a Tern node sends in ErrorHeader.
func Reasons() []string {
	return []string{
		ReasonOriginUnreachable, ReasonUpstreamError, ReasonUpstreamTimeout,
		ReasonMustRevalidate, ReasonOnlyIfCached, ReasonLoop,
		ReasonUnknownHost, ReasonMethod, ReasonURI, ReasonSNIMismatch, ReasonTLSVersion,
		ReasonAbandonBudget, ReasonStoreError,
	}
}

// ReasonKind is what a shield's error means to the edge that gets it.
type ReasonKind uint8

const (
	// ShieldFailed: the shield itself failed; another upstream may not.
	ShieldFailed ReasonKind = iota
	// OriginUnreachable: nothing reached the origin; the other shields may
	// have the object, and the edge may reach the origin itself.
	OriginUnreachable
	// OriginFailed: the origin got the request and failed or timed out;
	// the other shields may have the object, but asking the origin again
	// would only double its load.
	OriginFailed
	// Answered: an answer to what was asked (a request refused, a loop, a
	// cache-only miss), not a failure of anyone's.
	Answered
)

// ClassifyReason says what a shield's ErrorHeader reason means. An unknown
// reason is the shield's failure.
func ClassifyReason(reason string) (kind ReasonKind, known bool) {
	switch reason {
	case ReasonStoreError:
		return ShieldFailed, true
	case ReasonOriginUnreachable:
		return OriginUnreachable, true
	case ReasonUpstreamError, ReasonUpstreamTimeout, ReasonMustRevalidate:
		return OriginFailed, true
	case ReasonOnlyIfCached, ReasonLoop, ReasonUnknownHost, ReasonMethod, ReasonURI, ReasonSNIMismatch, ReasonTLSVersion, ReasonAbandonBudget:
		return Answered, true
	}
	return ShieldFailed, false
}

// FailureReason is the reason a node gives for an upstream request that
// failed with err: unreachable when no connection could be made (nothing
// was sent), a timeout, or an error.
func FailureReason(err error) string {
	var ne net.Error
	switch {
	case isDialError(err):
		return ReasonOriginUnreachable
	case errors.Is(err, ErrHeaderTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ReasonUpstreamTimeout
	}
	return ReasonUpstreamError
}

// TierError is a shield's own error answer (a 5xx carrying ErrorHeader),
// as an error: for an edge, a failed fetch, not a response to pass on.
type TierError struct {
	Code   int // the shield's status code
	Reason string
}

func (e *TierError) Error() string {
	return "origin: shield answered " + http.StatusText(e.Code) + " (" + ErrorHeader + ": " + e.Reason + ")"
}

// ShieldError returns resp as a TierError when it is a shield's own
// error. Only a shield's ErrorHeader reaches a Router's caller: the Router
// deletes it from every other response.
func ShieldError(resp *http.Response) (*TierError, bool) {
	if resp.StatusCode < 500 {
		return nil, false
	}
	reason := resp.Header.Get(ErrorHeader)
	if reason == "" {
		return nil, false
	}
	return &TierError{Code: resp.StatusCode, Reason: reason}, true
}

// Fleet authenticates the requests edges send to shields: an edge adds a
// token derived from the fleet secret (FleetHeader); a shield compares it in
// constant time. A Fleet without a secret authenticates nothing and adds
// nothing. The token is a bearer credential between tiers: it never goes to
// an origin or back to a client.
type Fleet struct {
	token []byte
}

// NewFleet returns the Fleet of secret (empty: none, nothing is trusted).
func NewFleet(secret []byte) *Fleet {
	if len(secret) == 0 {
		return &Fleet{}
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("tern fleet authentication v1"))
	return &Fleet{token: []byte(hex.EncodeToString(mac.Sum(nil)))}
}

// Enabled reports whether f has a secret.
func (f *Fleet) Enabled() bool { return f != nil && len(f.token) > 0 }

// Authenticated reports whether h carries the fleet's token.
func (f *Fleet) Authenticated(h http.Header) bool {
	if !f.Enabled() {
		return false
	}
	v := h[FleetHeader]
	return len(v) == 1 && subtle.ConstantTimeCompare([]byte(v[0]), f.token) == 1
}

// Sign returns a RoundTripper that sends every request through rt with the
// fleet's token: the transport to the shields, and only to them.
func (f *Fleet) Sign(rt http.RoundTripper) http.RoundTripper {
	if !f.Enabled() {
		return rt
	}
	return &signer{rt: rt, token: string(f.token)}
}

type signer struct {
	rt    http.RoundTripper
	token string
}

func (s *signer) RoundTrip(req *http.Request) (*http.Response, error) {
	out := *req
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	out.Header[FleetHeader] = []string{s.token}
	return s.rt.RoundTrip(&out)
}

// CloseIdleConnections closes the idle connections of the transport
// beneath.
func (s *signer) CloseIdleConnections() {
	if c, ok := s.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
