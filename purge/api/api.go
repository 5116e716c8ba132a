// Package api is the purge API: POST /v1/purge publishes a purge on the
// bus and answers 202 with its id once the stream stored it; GET
// /v1/purge/{id} tells which nodes applied it. The API keeps no state of
// its own (status lives in the bus), so several can run side by side.
package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"

	"github.com/tern-cdn/tern/purge"
)

// Site is a site the API purges for.
type Site struct {
	Name  string
	Hosts []string
}

// Config configures the API handler.
type Config struct {
	Bus    purge.Bus
	Sites  []Site
	Tokens Tokens
	// Limits bound each purge's entries.
	Limits purge.Limits
	// MaxBody is the largest request body (413 above). Default: 64 KiB.
	MaxBody int64
	// Rate is the calls per second each token may make, with Burst calls
	// at once (429 above). Defaults: 10/s, burst 20.
	Rate  float64
	Burst int
	// Nodes are the nodes expected to apply purges (from the topology):
	// listed as pending until they record. Nodes that recorded are listed
	// too.
	Nodes []string
	// PublishTimeout bounds the wait for the stream. Default: 5s.
	PublishTimeout time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
	Now            func() time.Time
}

// Handler serves the purge API.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	sites   map[string]Site
	mux     *http.ServeMux
	purges  *prometheus.CounterVec
	limitMu sync.Mutex
	limits  map[int]*rate.Limiter // by token index
}

// New returns the API handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Bus == nil {
		return nil, errors.New("purge api: no bus")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 10
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 20
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	h := &Handler{
		cfg: cfg, log: cfg.Logger, sites: map[string]Site{}, mux: http.NewServeMux(),
		limits: map[int]*rate.Limiter{},
		purges: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "tern_purge_requests_total",
			Help: "Purge calls by kind and result (accepted, duplicate, rejected, unauthorized, forbidden, limited, unavailable, error).",
		}, []string{"kind", "result"}),
	}
	for _, s := range cfg.Sites {
		lower := make([]string, len(s.Hosts))
		for i, host := range s.Hosts {
			lower[i] = strings.ToLower(host)
		}
		h.sites[s.Name] = Site{Name: s.Name, Hosts: lower}
	}
	h.mux.HandleFunc("POST /v1/purge", h.post)
	h.mux.HandleFunc("GET /v1/purge/{id}", h.status)
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// errorBody is every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// Accepted is the answer to a purge call.
type Accepted struct {
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Status is the answer to GET /v1/purge/{id}.
type Status struct {
	ID       string       `json:"id"`
	Site     string       `json:"site"`
	Accepted time.Time    `json:"accepted"`
	Complete bool         `json:"complete"`
	Nodes    []NodeStatus `json:"nodes"`
}

// NodeStatus is one node's state for a purge.
type NodeStatus struct {
	Node  string `json:"node"`
	State string `json:"state"` // "applied" or "pending"
	// AppliedSeq is the last stream sequence the node applied.
	AppliedSeq uint64 `json:"applied_seq"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Handler) fail(w http.ResponseWriter, code int, kind, result, msg string) {
	h.purges.WithLabelValues(kind, result).Inc()
	writeJSON(w, code, errorBody{Error: msg})
}

// authorize finds the caller's token; it answers 401 itself and returns -1.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) int {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	idx := -1
	if ok && token != "" {
		idx = h.cfg.Tokens.lookup(token)
	}
	if idx < 0 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tern-purge"`)
		h.fail(w, http.StatusUnauthorized, "none", "unauthorized", "a valid bearer token is required")
	}
	return idx
}

// allow takes one call from the token's budget.
func (h *Handler) allow(idx int) bool {
	h.limitMu.Lock()
	l, ok := h.limits[idx]
	if !ok {
		l = rate.NewLimiter(rate.Limit(h.cfg.Rate), h.cfg.Burst)
		h.limits[idx] = l
	}
	h.limitMu.Unlock()
	return l.Allow()
}

// admit authorizes r and takes one call of its token's rate; it answers
// r itself and returns -1 when r may not go on.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) int {
	idx := h.authorize(w, r)
	if idx < 0 {
		return -1
	}
	if !h.allow(idx) {
		w.Header().Set("Retry-After", "1")
		h.fail(w, http.StatusTooManyRequests, "none", "limited", "too many purge calls for this token; retry in a second")
		return -1
	}
	return idx
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	idx := h.admit(w, r)
	if idx < 0 {
		return
	}
	p, code, msg := h.decode(w, r)
	if code != 0 {
		h.fail(w, code, p.Kind(), "rejected", msg)
		return
	}
	h.accept(w, r, idx, p)
}

// PurgeURL serves the PURGE method of an edge (the Varnish and Squid
// convention) for one URL of site: the token rules, limits, validation and
// publish path of POST /v1/purge, with the same answers (202 with the
// purge's id, 401, 403, 429, 503).
func (h *Handler) PurgeURL(w http.ResponseWriter, r *http.Request, site, rawURL string) {
	idx := h.admit(w, r)
	if idx < 0 {
		return
	}
	h.accept(w, r, idx, purge.Purge{Site: site, Files: []string{rawURL}})
}

// accept checks a decoded purge against the token and the site, and
// publishes it.
func (h *Handler) accept(w http.ResponseWriter, r *http.Request, idx int, p purge.Purge) {
	if !h.cfg.Tokens.entries[idx].allows(p.Site) {
		h.fail(w, http.StatusForbidden, p.Kind(), "forbidden", fmt.Sprintf("this token may not purge site %q", p.Site))
		return
	}
	site, ok := h.sites[p.Site]
	if !ok {
		h.fail(w, http.StatusBadRequest, p.Kind(), "rejected", fmt.Sprintf("unknown site %q", p.Site))
		return
	}
	if err := p.Validate(site.Hosts, h.cfg.Limits); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, purge.ErrTooMany) {
			code = http.StatusRequestEntityTooLarge
		}
		h.fail(w, code, p.Kind(), "rejected", err.Error())
		return
	}
	h.publish(w, r, idx, p)
}

// decode reads the body; a non-zero code is the answer to a bad one.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request) (purge.Purge, int, string) {
	var p purge.Purge
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			return p, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", h.cfg.MaxBody)
		}
		return p, http.StatusBadRequest, "malformed JSON: " + err.Error()
	}
	if dec.More() {
		return p, http.StatusBadRequest, "malformed JSON: more than one value"
	}
	if p.ID != "" || !p.Accepted.IsZero() {
		return p, http.StatusBadRequest, "id and accepted are set by the API"
	}
	return p, 0, ""
}

// publish stores the purge in the stream and answers 202 once it is.
func (h *Handler) publish(w http.ResponseWriter, r *http.Request, idx int, p purge.Purge) {
	nonce, dedupKey := h.nonce(idx, p.Site, r.Header.Get("Idempotency-Key"))
	p.ID = nonce
	p.Accepted = h.cfg.Now()
	ctx, cancel := contextWithTimeout(r, h.cfg.PublishTimeout)
	defer cancel()
	pub, err := h.cfg.Bus.Publish(ctx, p, dedupKey)
	if err != nil {
		result, code, msg := "error", http.StatusInternalServerError, "purge not stored"
		if errors.Is(err, purge.ErrUnavailable) {
			result, code, msg = "unavailable", http.StatusServiceUnavailable, "the purge stream is unreachable; the purge was not stored, retry"
			w.Header().Set("Retry-After", "1")
		}
		h.log.Error("purge not stored", "site", p.Site, "kind", p.Kind(), "err", err)
		h.fail(w, code, p.Kind(), result, msg)
		return
	}
	id := purge.PublicID(pub.Seq, nonce)
	result := "accepted"
	if pub.Duplicate {
		result = "duplicate"
	}
	h.purges.WithLabelValues(p.Kind(), result).Inc()
	h.log.Info("purge accepted", "purge", id, "site", p.Site, "kind", p.Kind(), "entries", p.Entries(),
		"soft", p.Soft, "duplicate", pub.Duplicate)
	writeJSON(w, http.StatusAccepted, Accepted{ID: id, Duplicate: pub.Duplicate})
}

// nonce is the purge's nonce and the stream's dedup key: random, or, with
// an Idempotency-Key, derived from the token, the site and the key, so a
// retried call is one purge with one id.
func (h *Handler) nonce(idx int, site, key string) (nonce, dedupKey string) {
	if key == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b), ""
	}
	e := h.cfg.Tokens.entries[idx]
	sum := sha256.Sum256([]byte(hex.EncodeToString(e.sum[:]) + "\x00" + site + "\x00" + key))
	full := hex.EncodeToString(sum[:])
	return full[:16], "idem-" + full
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	idx := h.authorize(w, r)
	if idx < 0 {
		return
	}
	id := r.PathValue("id")
	seq, nonce, ok := purge.ParseID(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no purge " + strconv.Quote(id)})
		return
	}
	ctx, cancel := contextWithTimeout(r, h.cfg.PublishTimeout)
	defer cancel()
	p, err := h.cfg.Bus.Get(ctx, seq)
	switch {
	case errors.Is(err, purge.ErrNotFound) || (err == nil && p.ID != nonce):
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no purge " + strconv.Quote(id) + " (or no longer kept)"})
		return
	case errors.Is(err, purge.ErrUnavailable):
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "the purge stream is unreachable"})
		return
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "reading the purge failed"})
		return
	}
	if !h.cfg.Tokens.entries[idx].allows(p.Site) {
		writeJSON(w, http.StatusForbidden, errorBody{Error: "this token may not read purges of site " + strconv.Quote(p.Site)})
		return
	}
	nodes, err := h.cfg.Bus.Nodes(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "the purge status is unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, buildStatus(id, seq, p, nodes, h.cfg.Nodes))
}

// buildStatus lists every expected or recorded node; in-order application
// means a node applied the purge when it applied its sequence or a later one.
func buildStatus(id string, seq uint64, p purge.Purge, nodes map[string]purge.NodeState, expected []string) Status {
	names := slices.Clone(expected)
	for n := range nodes {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	st := Status{ID: id, Site: p.Site, Accepted: p.Accepted, Complete: len(names) > 0}
	for _, n := range names {
		ns := NodeStatus{Node: n, State: "pending", AppliedSeq: nodes[n].Seq}
		if nodes[n].Seq >= seq {
			ns.State = "applied"
		} else {
			st.Complete = false
		}
		st.Nodes = append(st.Nodes, ns)
	}
	return st
}
