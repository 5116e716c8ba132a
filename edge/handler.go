package edge

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/origin"
)

// Handler is the cache: an http.Handler that answers from its store or
// from upstream. It is safe for concurrent use.
type Handler struct {
	cfg   Config
	sites siteIndex
	store httpcache.Store
	m     *metrics
	// via is this node's Via entry and name the Cache-Status identifier.
	via, name string

	flights flights
	varyGen atomic.Uint64
	// abandons are the per-network budgets of abandoned fills.
	abandons abandons
	// bans are the purges applied lazily (invalidate.go); banMu orders
	// their writers.
	bans  atomic.Pointer[banSet]
	banMu sync.Mutex

	// coding holds the keys of the compressions running (compress.go);
	// codingSlots bounds how many run at once.
	codingMu    sync.Mutex
	coding      map[string]bool
	codingSlots chan struct{}

	// ctx bounds fills and background revalidations, which outlive the
	// request that started them; Close cancels it and waits for them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewHandler returns a cache handler for cfg.
func NewHandler(cfg Config) (*Handler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	// The handler's own copy: the index fills in per-site derived values.
	cfg.Sites = slices.Clone(cfg.Sites)
	sites, err := newSiteIndex(cfg.Sites)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{
		cfg:    cfg,
		sites:  sites,
		store:  cfg.Store,
		m:      newMetrics(cfg.Registerer),
		via:    "1.1 " + cfg.Node,
		name:   "tern-" + cfg.Node,
		ctx:    ctx,
		cancel: cancel,
		// Compressing is background work: leave a core for requests.
		codingSlots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
	}
	h.varyGen.Store(uint64(time.Now().UnixNano()))
	h.loadBans()
	return h, nil
}

// Close stops fills and background revalidations and waits for them.
func (h *Handler) Close() {
	h.cancel()
	h.wg.Wait()
}

// outcome is what serving one request did, for metrics.
type outcome struct {
	result string
	code   int
	bytes  int64
	// abort says the response was cut short: the connection must be
	// dropped so the client cannot take a partial body for a whole one.
	abort bool
}

// ServeHTTP answers a client request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v := r.ProtoMajor; v >= 1 && v <= 3 {
		h.m.byProto[v].Inc()
	}
	o := h.serve(w, r)
	h.m.requests.WithLabelValues(o.result, statusClass(o.code)).Inc()
	h.m.responseBytes.Add(float64(o.bytes))
	if o.abort {
		panic(http.ErrAbortHandler)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) outcome {
	host := normalizeHost(r.Host)
	site, ok := h.sites[host]
	if !ok {
		// Never an open proxy: an unknown host gets no upstream request.
		return h.fail(w, r, http.StatusMisdirectedRequest, origin.ReasonUnknownHost, "host not served here")
	}
	if r.TLS != nil {
		if o, refused := h.misdirectedTLS(w, r, site); refused {
			return o
		}
	}
	if r.TLS == nil && site.RedirectHTTPS && h.cfg.ClientFacing {
		return h.redirectHTTPS(w, r, host)
	}
	if r.TLS != nil && site.hsts != nil {
		w.Header()["Strict-Transport-Security"] = site.hsts
	}
	switch r.Method {
	case http.MethodConnect, http.MethodTrace:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE")
		return h.fail(w, r, http.StatusMethodNotAllowed, origin.ReasonMethod, "method not allowed")
	}
	if len(r.URL.Path) == 0 || r.URL.Path[0] != '/' {
		return h.fail(w, r, http.StatusBadRequest, origin.ReasonURI, "request target must be an absolute path")
	}
	if h.looped(r) {
		return h.fail(w, r, http.StatusLoopDetected, origin.ReasonLoop, "request loop detected")
	}
	key := cacheKey(scheme(r), host, r.URL)
	for _, f := range site.KeyHeaders {
		key += "\x00" + f + "=" + strings.Join(r.Header.Values(f), ",")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return h.pass(w, r, site, key, "method", true)
	}
	if h.behindPurge(r) {
		return h.pass(w, r, site, key, "bypass; detail=purge-pending", false)
	}
	return h.serveCacheable(w, r, site, key, 0)
}

// fromFleet reports whether r comes from a node of the fleet (an edge,
// seen from its shield).
func (h *Handler) fromFleet(r *http.Request) bool {
	if _, ok := r.Header[origin.FleetHeader]; !ok {
		return false
	}
	return h.cfg.Fleet.Authenticated(r.Header)
}

// misdirectedTLS refuses a request that must not be served on the TLS
// connection it came on. The listener chose the TLS version (and
// certificate) by SNI, the handler the site by Host: a request whose Host
// names another site than the SNI would escape its site's TLS policy or
// front one site behind another's name. 421 makes a client that reused a
// connection across hosts (RFC 9113 §9.1.1) retry on one of its own.
func (h *Handler) misdirectedTLS(w http.ResponseWriter, r *http.Request, site *Site) (outcome, bool) {
	if sni := normalizeHost(r.TLS.ServerName); sni != "" && h.sites[sni] != site {
		return h.fail(w, r, http.StatusMisdirectedRequest, origin.ReasonSNIMismatch, "the TLS connection was made for another site"), true
	}
	if r.TLS.Version < site.MinTLSVersion {
		return h.fail(w, r, http.StatusMisdirectedRequest, origin.ReasonTLSVersion, "the site needs a newer TLS version"), true
	}
	return outcome{}, false
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// redirectHTTPS sends a plain-HTTP request to the same URL over HTTPS;
// 308 keeps the method and body. The Location is built from the site's
// host and the request's cleaned absolute path, never from the raw
// request target, which could make it name another host.
func (h *Handler) redirectHTTPS(w http.ResponseWriter, r *http.Request, host string) outcome {
	path, ok := redirectTarget(r.URL)
	if !ok {
		return h.fail(w, r, http.StatusBadRequest, origin.ReasonURI, "request target must be an absolute path")
	}
	target := "https://" + host
	if h.cfg.HTTPSPort != 443 {
		target += ":" + strconv.Itoa(h.cfg.HTTPSPort)
	}
	w.Header().Set("Location", target+path)
	w.Header().Set("Cache-Status", h.name+"; fwd=bypass; detail=https-redirect")
	w.WriteHeader(http.StatusPermanentRedirect)
	return outcome{result: resultRedirect, code: http.StatusPermanentRedirect}
}

// fail writes an error the node generates itself, for r; reason is one of
// origin's Reason constants.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, reason, msg string) outcome {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Cache-Status", h.name+"; fwd=bypass; detail="+reason)
	if h.fromFleet(r) {
		// Tern-Error marks an answer this node made itself, so the edge in
		// front of a shield can tell a failed shield (fail over) from the
		// origin's own error (pass it on). Only the fleet gets it.
		hdr[origin.ErrorHeader] = []string{reason}
	}
	w.WriteHeader(code)
	n, _ := fmt.Fprintf(w, "%d %s: %s\n", code, http.StatusText(code), msg)
	return outcome{result: resultError, code: code, bytes: int64(n)}
}

// goSafe runs fn in a goroutine tracked by Close that logs a panic
// instead of taking the process down.
func (h *Handler) goSafe(fn func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				h.cfg.Logger.Error("edge: background task panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		fn()
	}()
}
