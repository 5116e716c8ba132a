package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/tern-cdn/tern/origin"
)

// A client that starts fills and leaves before their responses arrive
// (HTTP/2 rapid reset, HTTP/3 requests cancelled at once, h1 connections
// dropped) makes the edge fetch upstream for nobody. Such a fill is
// cancelled when its last client leaves (see flights.leave), and each one
// is charged to two budgets: the client's connection, which is closed once
// its budget is spent, and the client's network (/24 or /64), whose new
// fills are refused with 429 while its budget is spent, so opening new
// connections does not reset the count.

// AbandonLimit is a token bucket: Burst abandoned fills at once, refilled
// at Burst per Per.
type AbandonLimit struct {
	Burst int
	Per   time.Duration
}

// Default abandon budgets: a browser that cancels a page's requests on a
// cold cache stays well under them; an attack reaches them in milliseconds.
var (
	defaultAbandonPerConn = AbandonLimit{Burst: 16, Per: 10 * time.Second}
	defaultAbandonPerNet  = AbandonLimit{Burst: 50, Per: 10 * time.Second}
)

// errAbandoned cancels a fill whose every client has gone.
var errAbandoned = errors.New("edge: every client of the fill has gone")

// bucket is one token bucket; the zero value is full.
type bucket struct {
	used float64 // tokens taken, net of refill, at last
	last time.Time
}

// refill credits the time since the last take.
func (b *bucket) refill(l AbandonLimit, now time.Time) {
	if !b.last.IsZero() && l.Per > 0 {
		b.used -= now.Sub(b.last).Seconds() * float64(l.Burst) / l.Per.Seconds()
		b.used = max(b.used, 0)
	}
	b.last = now
}

// take spends one token and reports whether there was one.
func (b *bucket) take(l AbandonLimit, now time.Time) bool {
	b.refill(l, now)
	if b.used+1 > float64(l.Burst) {
		return false
	}
	b.used++
	return true
}

// spent reports whether the bucket has no token left.
func (b *bucket) spent(l AbandonLimit, now time.Time) bool {
	b.refill(l, now)
	return b.used+1 > float64(l.Burst)
}

// clientConn is a client connection as the handler sees it: a way to end
// it and its abandon budget. The servers put it in every request's
// context (withClientConn).
type clientConn struct {
	// close ends the connection: TCP close for HTTP/1.1 and HTTP/2 (net/http
	// has no API to send a GOAWAY for one connection; the client sees the
	// connection end), CONNECTION_CLOSE with H3_EXCESSIVE_LOAD for HTTP/3.
	close func()
	mu    sync.Mutex
	b     bucket
}

type clientConnKey struct{}

// withClientConn returns ctx carrying a new clientConn that closes with
// closeFn; servers call it from their ConnContext.
func withClientConn(ctx context.Context, closeFn func()) context.Context {
	return context.WithValue(ctx, clientConnKey{}, &clientConn{close: closeFn})
}

// tcpConnContext is the ConnContext of the TCP servers.
func tcpConnContext(ctx context.Context, c net.Conn) context.Context {
	return withClientConn(ctx, func() { c.Close() })
}

// maxNets bounds the per-network buckets kept; past it the full ones go.
const maxNets = 1 << 16

// abandons holds the per-network budgets.
type abandons struct {
	mu   sync.Mutex
	nets map[netip.Prefix]*bucket
}

// budgeted returns the /24 (IPv4) or /64 (IPv6) r comes from, and false
// when r's abandoned fills are not counted: those of the fleet (an edge,
// authenticated at its shield) or of a trusted proxy in front, whose own
// clients' budgets apply there. Else a client abandoning fills at an edge
// would get that edge refused by its shield.
func (h *Handler) budgeted(r *http.Request) (netip.Prefix, bool) {
	a := remoteIP(r).Unmap()
	if !a.IsValid() || h.trusted(a) || h.fromFleet(r) {
		return netip.Prefix{}, false
	}
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

// netSpent reports whether r's network has abandoned its budget of fills,
// so no new fill is started for it.
func (h *Handler) netSpent(r *http.Request) bool {
	p, ok := h.budgeted(r)
	if !ok {
		return false
	}
	h.abandons.mu.Lock()
	defer h.abandons.mu.Unlock()
	b := h.abandons.nets[p]
	return b != nil && b.spent(h.cfg.AbandonPerNet, h.cfg.Now())
}

// chargeAbandoned counts a fill r started (or shared) and left, cancelled
// for want of clients, against r's connection and network; a connection
// past its budget is closed.
func (h *Handler) chargeAbandoned(r *http.Request) {
	h.m.abandonedFills.Inc()
	p, ok := h.budgeted(r)
	if !ok {
		return
	}
	now := h.cfg.Now()
	netOK := h.takeNet(p, now)
	if c, found := r.Context().Value(clientConnKey{}).(*clientConn); found {
		c.mu.Lock()
		connOK := c.b.take(h.cfg.AbandonPerConn, now)
		c.mu.Unlock()
		if !connOK || !netOK {
			h.m.abandonClosed.Inc()
			c.close()
		}
	}
}

func (h *Handler) takeNet(p netip.Prefix, now time.Time) bool {
	a := &h.abandons
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.nets == nil {
		a.nets = make(map[netip.Prefix]*bucket)
	}
	b := a.nets[p]
	if b == nil {
		if len(a.nets) >= maxNets {
			a.prune(h.cfg.AbandonPerNet, now)
		}
		b = &bucket{}
		a.nets[p] = b
	}
	return b.take(h.cfg.AbandonPerNet, now)
}

// prune drops the buckets that have refilled, or all of them when none
// has: a forgotten network starts with a full budget, never an empty one.
func (a *abandons) prune(l AbandonLimit, now time.Time) {
	for p, b := range a.nets {
		if b.refill(l, now); b.used == 0 {
			delete(a.nets, p)
		}
	}
	if len(a.nets) >= maxNets {
		clear(a.nets)
	}
}

// refuseSpent answers a request whose network has spent its abandon budget
// and that needs a new fill.
func (h *Handler) refuseSpent(w http.ResponseWriter, r *http.Request) outcome {
	secs := max(int(h.cfg.AbandonPerNet.Per/time.Duration(max(h.cfg.AbandonPerNet.Burst, 1))/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	return h.fail(w, r, http.StatusTooManyRequests, origin.ReasonAbandonBudget, "too many requests from this network were abandoned; retry later")
}
