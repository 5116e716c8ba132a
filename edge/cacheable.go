package edge

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/origin"
)

// verdict is what a stored entry can do for a request.
type verdict int

const (
	useFresh      verdict = iota // serve it
	useStale                     // serve it stale; the client allowed that (max-stale)
	useStaleAsync                // serve it stale and refresh it in the background
	useRevalidate                // ask upstream first
)

// judge applies RFC 9111 §4.2 and §5.2.1 and RFC 5861 to a stored entry.
func judge(e *httpcache.Entry, req httpcache.Directives, noCache bool, now time.Time) verdict {
	if e.NoCache || noCache {
		return useRevalidate
	}
	age := e.Age(now)
	ttl := e.Lifetime - age
	if req.MaxAge >= 0 && age > req.MaxAge {
		return useRevalidate
	}
	if req.MinFresh >= 0 && ttl < req.MinFresh {
		return useRevalidate
	}
	if ttl > 0 {
		return useFresh
	}
	if e.MustRevalidate {
		return useRevalidate
	}
	stale := -ttl
	if req.MaxStaleAny || (req.MaxStale >= 0 && stale <= req.MaxStale) {
		return useStale
	}
	if stale < e.StaleWhileRevalidate && req.MaxAge < 0 && req.MinFresh < 0 {
		return useStaleAsync
	}
	return useRevalidate
}

// serveCacheable answers a GET or HEAD from the store, a collapsed fill,
// or both. depth counts retries after a Vary mismatch.
func (h *Handler) serveCacheable(w http.ResponseWriter, r *http.Request, s *Site, primary string, depth int) outcome {
	now := h.cfg.Now()
	rd := requestDirectives(r, s)
	reqCC := rd.cc

	e, key := h.lookup(primary, r.Header)
	if e != nil && e.HitForPass {
		return h.pass(w, r, s, primary, "bypass", false)
	}
	if e != nil {
		v := judge(e, reqCC, rd.noCache, now)
		if v == useStaleAsync && h.softPurgedForFleet(r, primary, e) {
			v = useRevalidate
		}
		switch v {
		case useFresh, useStale, useStaleAsync:
			if v == useFresh {
				if cv, ck := h.codedVariant(r, s, key, e, reqCC.NoTransform); cv != nil {
					if cb, err := h.entryBody(r, s, ck, cv); err == nil {
						return h.serveHit(w, r, cv, cb, resultHit, now)
					}
					h.store.Delete(ck) // unreadable: made again on a later hit
				}
			}
			b, err := h.entryBody(r, s, key, e)
			if err != nil {
				// Unreadable or corrupt on disk: drop it, fetch it again.
				h.cfg.Logger.Warn("edge: stored body unreadable", "key", key, "err", err)
				h.store.Delete(key)
				return h.serveFill(w, r, s, primary, key, nil, rd, depth)
			}
			if reqCC.OnlyIfCached && b.kind == bodySlices && !b.slices.allStored() {
				return h.fail(w, r, http.StatusGatewayTimeout, origin.ReasonOnlyIfCached, "only part of the object is stored")
			}
			switch v {
			case useFresh:
				return h.serveHit(w, r, e, b, resultHit, now)
			case useStale:
				return h.serveHit(w, r, e, b, resultStale, now)
			}
			h.refresh(r, s, primary, key, e)
			return h.serveEntry(w, r, e, b, h.hitCacheStatus(e, now, b, "stale-while-revalidate"), resultStale, now)
		}
		if reqCC.OnlyIfCached {
			return h.fail(w, r, http.StatusGatewayTimeout, origin.ReasonOnlyIfCached, "no fresh stored response")
		}
		return h.serveFill(w, r, s, primary, key, e, rd, depth)
	}
	if reqCC.OnlyIfCached {
		return h.fail(w, r, http.StatusGatewayTimeout, origin.ReasonOnlyIfCached, "not in cache")
	}
	if reqCC.NoStore {
		// Nothing of this exchange may be stored: no shared fill either.
		return h.pass(w, r, s, primary, "request", false)
	}
	return h.serveFill(w, r, s, primary, key, nil, rd, depth)
}

// hitCacheStatus is the Cache-Status of a response served from a stored entry:
// a hit, or fwd=partial when slices of it must be fetched.
func (h *Handler) hitCacheStatus(e *httpcache.Entry, now time.Time, b body, detail string) string {
	kind := "; hit"
	if b.kind == bodySlices && !b.slices.allStored() {
		kind = "; fwd=partial"
	}
	s := h.name + kind + "; ttl=" + strconv.FormatInt(int64(e.TTL(now)/time.Second), 10)
	if detail != "" {
		s += "; detail=" + detail
	}
	return s
}

// lookup finds the entry for a request: the one under primary, or, when
// the responses for primary vary, the variant its header selects. key is
// where the request's response lives or would be stored.
func (h *Handler) lookup(primary string, hdr http.Header) (e *httpcache.Entry, key string) {
	e, ok := h.store.Get(primary)
	if !ok {
		return nil, primary
	}
	if !e.VaryMarker {
		return h.unbanned(primary, primary, e)
	}
	key = variantKey(primary, e.VaryGen, httpcache.VaryKey(e.Vary, hdr))
	v, ok := h.store.Get(key)
	if !ok {
		return nil, key
	}
	return h.unbanned(primary, key, v)
}

func variantKey(primary string, gen uint64, varyKey string) string {
	return primary + "\x00" + strconv.FormatUint(gen, 36) + "\x00" + varyKey
}

// storeEntry stores e for the request header reqHdr. A varying response
// goes under its variant key, with a marker under primary that names the
// fields it varies on; a new marker (after an invalidation, or when the
// fields change) gets a new generation, so old variants stay unreachable.
func (h *Handler) storeEntry(primary string, reqHdr http.Header, e *httpcache.Entry, now time.Time) (key string, ok bool) {
	ttl := e.StoreTTL(now)
	if ttl <= 0 {
		return primary, false
	}
	if len(e.Vary) == 0 {
		return primary, h.store.Set(primary, e, ttl)
	}
	m, ok := h.store.Get(primary)
	if !ok || !m.VaryMarker || !slices.Equal(m.Vary, e.Vary) {
		m = &httpcache.Entry{VaryMarker: true, Vary: e.Vary, VaryGen: h.varyGen.Add(1), Header: http.Header{}}
	}
	key = variantKey(primary, m.VaryGen, httpcache.VaryKey(e.Vary, reqHdr))
	if !h.store.Set(primary, m, ttl) {
		return key, false
	}
	return key, h.store.Set(key, e, ttl)
}

// invalidate drops what is stored for a primary key, variants included.
func (h *Handler) invalidate(primary string) {
	h.flights.forget(primary)
	h.store.Delete(primary)
	h.m.invalidations.Inc()
}

func hasToken(lines []string, tok string) bool {
	for _, l := range lines {
		for _, t := range strings.Split(l, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}
