package edge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/origin"
)

// fillRequest is what a fill needs to know of the request that started it.
type fillRequest struct {
	r       *http.Request // its header and URL only: the fill outlives it
	site    *Site
	primary string
	stale   *httpcache.Entry // the stored entry being revalidated, if any
	dirs    reqDirectives    // the request directives the fill honours
	// forward is the Cache-Control sent upstream (dirs.forward()), and
	// fwd the Cache-Status fwd of a revalidation of stale.
	forward, fwd string
	// slice is the index of the slice a sliced fill asks for first: the
	// one holding the first byte the client wants.
	slice int64
	// interim relays 1xx responses to the request that started the fill;
	// nil for background fills.
	interim *interimWriter
}

// serveFill answers a request by joining (or starting) the fill for key.
func (h *Handler) serveFill(w http.ResponseWriter, r *http.Request, s *Site, primary, key string, stale *httpcache.Entry, dirs reqDirectives, depth int) outcome {
	ctx := r.Context()
	fr := fillRequest{r: r, site: s, primary: primary, stale: stale, dirs: dirs, forward: dirs.forward(),
		fwd: fwdReason(stale, h.cfg.Now()), slice: h.firstSlice(r), interim: h.newInterimWriter(w)}
	fkey := flightKey(key, fr.forward)
	if !h.flights.running(fkey) && h.netSpent(r) {
		return h.refuseSpent(w, r)
	}
	f, created := h.flights.join(fkey,
		func(f *flight) bool { return h.joinable(f, dirs) },
		func() *flight {
			f := newFlight(key, r.Header, ctx.Done())
			f.abandonable = true
			return f
		},
		func(f *flight) {
			if fkey != key {
				h.flights.alias(key, f)
			}
			h.goSafe(func() { h.fill(f, fr) })
		})
	if !created {
		h.m.collapsed.Inc()
	}
	defer func() {
		if h.flights.leave(f, ctx.Err() != nil) {
			h.chargeAbandoned(r)
		}
	}()
	// Only the request that started the fill gets its 1xx responses: the
	// others joined at any time, some after the final response.
	select {
	case <-f.ready:
		fr.interim.close()
	case <-ctx.Done():
		fr.interim.close()
		return outcome{result: resultMiss, code: 499}
	}
	switch {
	case f.pass:
		return h.serveFillPass(w, r, s, primary, f, created)
	case f.err != nil:
		if stale != nil && staleForbidden(stale) {
			return h.fail(w, r, http.StatusGatewayTimeout, origin.ReasonMustRevalidate, "the stored response must be revalidated and upstream failed")
		}
		return h.fail(w, r, f.errCode, failureReason(f.err), upstreamErrorText(f.errCode))
	}
	return h.serveFilled(w, r, s, primary, f, created, depth)
}

// joinable reports whether a request with directives dirs may take its
// answer from f. Until f's response arrives, that response is at least as
// new as the request (request collapsing); once it has arrived, f holds a
// response like a stored one, already aging, and serves only requests it
// is fresh enough for: a response with max-age=0 or must-revalidate that
// is still being stored must not answer a request that came after it.
func (h *Handler) joinable(f *flight, dirs reqDirectives) bool {
	select {
	case <-f.ready:
	default:
		return true
	}
	if f.err != nil || f.pass || f.entry == nil {
		return true // nothing to serve: each waiter decides on its own
	}
	v := judge(f.entry, dirs.cc, dirs.noCache, h.cfg.Now())
	return v == useFresh || v == useStale || v == useStaleAsync
}

// serveFillPass answers a request whose fill got a response that may not
// be shared: from the fill's response when the request started the fill
// (handoff), else with a request of its own.
func (h *Handler) serveFillPass(w http.ResponseWriter, r *http.Request, s *Site, primary string, f *flight, created bool) outcome {
	if created {
		select {
		case ho := <-f.handoff:
			if o, ok := h.serveHandoff(w, r, ho, chainCacheStatus(f.upstreamCacheStatus, f.cacheStatus)); ok {
				return o
			}
		case <-r.Context().Done():
			return outcome{result: resultPass, code: 499}
		}
	}
	// Not shareable: this request makes its own.
	return h.pass(w, r, s, primary, "miss", false)
}

// serveFilled answers a request from its fill's entry: the body arriving,
// stored already (a revalidation), or in slices.
func (h *Handler) serveFilled(w http.ResponseWriter, r *http.Request, s *Site, primary string, f *flight, created bool, depth int) outcome {
	e := f.entry
	if len(e.Vary) > 0 && httpcache.VaryKey(e.Vary, r.Header) != httpcache.VaryKey(e.Vary, f.reqHeader) {
		// The response varies on something this request differs in.
		if depth > 0 {
			return h.pass(w, r, s, primary, "vary-miss", false)
		}
		return h.serveCacheable(w, r, s, primary, depth+1)
	}
	cacheStatus := f.cacheStatus
	if !created {
		cacheStatus += "; detail=collapsed"
	}
	cacheStatus = chainCacheStatus(f.upstreamCacheStatus, cacheStatus)
	var b body
	switch {
	case f.result != resultMiss:
		// A revalidated or stale entry: its body is stored already.
		var err error
		if b, err = h.entryBody(r, s, f.key, e); err != nil {
			if depth == 0 {
				// Gone since the fill began (purged, replaced, found
				// corrupt): serve what the store holds now, or fetch it.
				h.cfg.Logger.Warn("edge: stored body gone during a revalidation", "key", f.key, "err", err)
				return h.serveCacheable(w, r, s, primary, depth+1)
			}
			return h.fail(w, r, http.StatusBadGateway, origin.ReasonStoreError, "the stored response could not be read")
		}
	case e.Sliced:
		b = h.slicesBody(r, s, f.headKey, e, f, f.slice)
	default:
		b = flightBody(f)
	}
	return h.serveEntry(w, r, e, b, cacheStatus, f.result, h.cfg.Now())
}

// refresh starts a background revalidation of a stale entry
// (stale-while-revalidate), unless one already runs.
func (h *Handler) refresh(r *http.Request, s *Site, primary, key string, stale *httpcache.Entry) {
	if h.flights.running(key) {
		return
	}
	gone := make(chan struct{})
	close(gone) // nobody takes a handoff
	fr := fillRequest{r: r, site: s, primary: primary, stale: stale, fwd: "stale"}
	h.flights.join(key, nil,
		func() *flight { return newFlight(key, r.Header.Clone(), gone) },
		func(f *flight) {
			h.goSafe(func() {
				// fill returns once the outcome is final and any body is
				// complete or cut short.
				h.fill(f, fr)
				f.mu.Lock()
				bodyErr := f.bodyErr
				f.mu.Unlock()
				if f.err != nil || bodyErr != nil {
					h.m.backgroundErrors.Inc()
				}
			})
		})
}

// fill runs one flight: it fetches upstream, publishes the outcome to the
// flight's readers, and stores the response once it is complete.
func (h *Handler) fill(f *flight, fr fillRequest) {
	defer h.flights.remove(f)
	if h.fillFromStore(f, fr) {
		return
	}
	x := h.newExchange(h.ctx, fr.r, fr.site, kindFill, fr.interim)
	f.setCancel(x.cancel)
	// A response handed to the fill's creator is read after fill returns:
	// the creator then ends the upstream request (see handoff).
	handedOff := false
	defer func() {
		if !handedOff {
			x.end()
		}
	}()
	got := h.fetch(x, fr)
	if got.err != nil || got.resp.StatusCode >= 500 {
		if h.staleIfError(f, fr.stale, got.resp, got.err, got.respTime) {
			return
		}
		if got.err != nil {
			h.fetchFailed(f, fr, x, got.err)
			return
		}
	}
	defer func() {
		if !handedOff {
			got.resp.Body.Close()
		}
	}()
	if got.resp.StatusCode == http.StatusNotModified && fr.stale != nil {
		h.fillRevalidated(f, fr, got)
		return
	}
	handedOff = h.fillResponse(f, fr, x, got)
}

// fillFromStore ends a fill with what the store holds, if it holds what
// the fill is for: a fill that ended just before this one started may have
// stored it. Looking again, as groupcache's load does, a request that
// missed the store and then the flight makes no second fetch.
func (h *Handler) fillFromStore(f *flight, fr fillRequest) bool {
	if fr.stale != nil || fr.dirs.noCache {
		return false
	}
	e, key := h.lookup(fr.primary, f.reqHeader)
	if e == nil || key != f.key || e.HitForPass || e.VaryMarker ||
		(fr.forward != "" && judge(e, fr.dirs.cc, false, h.cfg.Now()) != useFresh) {
		return false
	}
	f.entry, f.result = e, resultHit
	f.cacheStatus = h.name + "; hit; ttl=" + strconv.FormatInt(int64(e.TTL(h.cfg.Now())/time.Second), 10)
	h.settle(f)
	return true
}

// fetched is what the fetch step of a fill brought: a response, or the
// error of a fetch that brought none to serve.
type fetched struct {
	resp *http.Response
	err  error
	// sliced says resp answers a request for one slice.
	sliced            bool
	reqTime, respTime time.Time
}

// fetch sends a fill's request upstream: with the request directives the
// fill honours, conditional on the stale entry it revalidates, and for
// one slice when the cache keeps objects in slices. A shield's own error
// comes back as err.
func (h *Handler) fetch(x *exchange, fr fillRequest) fetched {
	req := x.req
	if fr.forward != "" {
		// The caches upstream apply the test this one applied.
		req.Header.Set("Cache-Control", fr.forward)
	}
	if stale := fr.stale; stale != nil {
		if stale.ETag != "" {
			req.Header.Set("If-None-Match", stale.ETag)
		}
		if !stale.LastModified.IsZero() {
			req.Header.Set("If-Modified-Since", stale.LastModified.UTC().Format(http.TimeFormat))
		}
	}
	got := fetched{sliced: h.cfg.SliceSize > 0}
	if got.sliced {
		// Ask for one slice: a small object comes whole in the 206, a
		// large one gives its length and first needed slice, and nothing
		// else crosses the wire until a client needs it.
		req.Header.Set("Range", h.sliceRange(fr.slice, -1))
	}
	got.reqTime = h.cfg.Now()
	got.resp, got.err = x.send()
	if got.err == nil && got.resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && got.sliced {
		// Shorter than the slice asked for (or empty): fetch it whole.
		got.resp.Body.Close()
		req.Header.Del("Range")
		got.sliced = false
		got.resp, got.err = x.send()
	}
	got.respTime = h.cfg.Now()
	if got.err == nil {
		if te, ok := origin.ShieldError(got.resp); ok {
			// The shield's own error is a failed fetch for everyone
			// waiting on it, not a response to hand each of them to
			// fetch again on their own.
			got.resp.Body.Close()
			got.resp, got.err = nil, te
		}
	}
	return got
}

// fetchFailed ends a fill whose fetch brought no response.
func (h *Handler) fetchFailed(f *flight, fr fillRequest, x *exchange, err error) {
	f.errCode, f.err = errorCode(err), err
	if !errors.Is(context.Cause(x.ctx), errAbandoned) {
		h.cfg.Logger.Warn("edge: upstream fetch failed", "key", fr.primary, "err", err)
	}
	h.settle(f)
}

// fillRevalidated ends a fill whose revalidation got a 304: the stored
// entry, updated with the 304's header, is the outcome.
func (h *Handler) fillRevalidated(f *flight, fr fillRequest, got fetched) {
	stale, resp := fr.stale, got.resp
	d := fr.site.Policy.Decide(fr.r.Header, stale.Status, mergedHeader(stale.Header, resp.Header, got.respTime), got.respTime)
	upstreamCacheStatus := h.cleanResponseHeader(resp.Header, fr.site)
	e := stale.Revalidated(resp.Header, d, got.reqTime, got.respTime)
	f.entry, f.result, f.upstreamCacheStatus = e, resultRevalidated, upstreamCacheStatus
	f.cacheStatus = h.name + "; fwd=" + fr.fwd + "; fwd-status=304"
	if d.Store {
		if _, ok := h.storeEntry(fr.primary, f.reqHeader, e, got.respTime); ok {
			f.cacheStatus += "; stored"
		}
	}
	h.settle(f)
}

// fillResponse ends a fill with the response it fetched: one that may not
// be stored goes to the fill's creator (fillResponse reports whether the
// creator took it), any other is stored. A 304 for the stale entry the
// fill revalidates is fillRevalidated's.
func (h *Handler) fillResponse(f *flight, fr fillRequest, x *exchange, got fetched) (handedOff bool) {
	resp := got.resp
	var part sliceResponse
	if got.sliced && resp.StatusCode == http.StatusPartialContent {
		var ok bool
		if part, ok = h.sliceResponse(resp, fr.slice); !ok {
			f.errCode, f.err = http.StatusBadGateway, errBadSlice
			h.cfg.Logger.Warn("edge: upstream answered a slice request with a bad Content-Range", "key", fr.primary, "content_range", resp.Header.Get("Content-Range"))
			h.settle(f)
			return false
		}
	}
	code := resp.StatusCode
	if part.partial {
		// The entry is the whole representation: a 200 of its full length.
		code = http.StatusOK
	}
	d := fr.site.Policy.Decide(fr.r.Header, code, resp.Header, got.respTime)
	initialAge := httpcache.InitialAge(resp.Header, got.reqTime, got.respTime)
	tags := httpcache.ParseSurrogateKeys(resp.Header) // before an edge strips them
	f.upstreamCacheStatus = h.cleanResponseHeader(resp.Header, fr.site)
	fwd := "miss"
	if fr.stale != nil {
		fwd = fr.fwd + "; fwd-status=" + strconv.Itoa(resp.StatusCode)
	}
	if !d.Store || (!part.sliced && resp.ContentLength > h.cfg.MaxObjectSize) {
		reason := d.Reason
		if d.Store {
			reason = "too-large"
		}
		return h.fillPass(f, fr, x, resp, fwd, reason)
	}
	if fr.stale != nil {
		if err := takeWhole(resp, h.cfg.MaxObjectSize); err != nil {
			h.revalidationFailed(f, fr.primary, fr.stale, err, h.cfg.Now())
			return false
		}
	}
	e := h.fillEntry(fr, resp, code, part, d, got)
	e.InitialAge = initialAge
	e.SurrogateKeys = tags
	f.entry, f.result = e, resultMiss
	f.cacheStatus = h.name + "; fwd=" + fwd + "; stored"
	f.size = resp.ContentLength
	if part.sliced {
		h.fillSliceHead(f, fr, e, part, fwd, resp, got.respTime)
		return false
	}
	h.fillBody(f, fr, x, e, resp)
	return false
}

// fillPass ends a fill whose response may not be shared: the URL is marked
// hit-for-pass, and the response goes to the fill's creator, if it is
// still there to take it (fillPass reports whether it took it).
func (h *Handler) fillPass(f *flight, fr fillRequest, x *exchange, resp *http.Response, fwd, reason string) (handedOff bool) {
	f.pass = true
	f.cacheStatus = h.name + "; fwd=" + fwd + "; detail=" + reason
	h.store.Set(fr.primary, &httpcache.Entry{HitForPass: true, Header: http.Header{}}, h.cfg.HitForPass)
	h.settle(f)
	select {
	case f.handoff <- &handoff{resp: resp, release: x.end}:
		// The creator now owns resp: it closes its body and
		// releases the upstream request.
		return true
	case <-f.creatorGone:
		return false
	}
}

// fillEntry is the entry a fill stores for resp, whose status code is
// code (a 200 for a slice of a larger object) and whose header is cleaned.
func (h *Handler) fillEntry(fr fillRequest, resp *http.Response, code int, part sliceResponse, d httpcache.Decision, got fetched) *httpcache.Entry {
	if d.StripSetCookie {
		delete(resp.Header, "Set-Cookie")
	}
	if resp.Header.Get("Content-Encoding") != "" && !varies(resp.Header, "Accept-Encoding") {
		// An encoded body must never reach a client that did not ask for
		// that coding, whatever the origin's Vary says.
		resp.Header.Add("Vary", "Accept-Encoding")
	}
	if part.partial {
		delete(resp.Header, "Content-Range")
		resp.Header.Set("Content-Length", strconv.FormatInt(part.total, 10))
	}
	e := httpcache.NewEntry(code, resp.Header, nil, d, got.reqTime, got.respTime)
	e.Tier = fr.site.tierFor(fr.r.URL.Path)
	if h.cfg.ClientFacing && fr.site.Compression.compressible(code, resp.Header) &&
		(resp.ContentLength < 0 || fr.site.Compression.sizeFits(resp.ContentLength)) {
		e.CodingGen = h.varyGen.Add(1)
	}
	return e
}

// fillSliceHead stores e, the head of a sliced object, and streams the
// slice resp brings into f.
func (h *Handler) fillSliceHead(f *flight, fr fillRequest, e *httpcache.Entry, part sliceResponse, fwd string, resp *http.Response, respTime time.Time) {
	e.Sliced, e.Size, e.SliceSize, e.SliceGen = true, part.total, h.cfg.SliceSize, h.varyGen.Add(1)
	// This fill is also the fill of the slice it brings: register it
	// under that slice's key before the head becomes visible, so a
	// request that finds the head joins it instead of fetching the
	// slice again.
	if len(e.Vary) == 0 {
		h.flights.alias(sliceKey(fr.primary, e.SliceGen, fr.slice), f)
	}
	key, ok := h.storeEntry(fr.primary, f.reqHeader, e, respTime)
	if !ok {
		f.cacheStatus = h.name + "; fwd=" + fwd
	}
	f.headKey, f.slice = key, fr.slice
	if len(e.Vary) > 0 {
		h.flights.alias(sliceKey(key, e.SliceGen, fr.slice), f)
	}
	h.fillSliceBody(f, key, e, fr.slice, resp)
}

// fillBody publishes e to f's readers, streams resp's body to them and
// stores e with it once it is complete.
func (h *Handler) fillBody(f *flight, fr fillRequest, x *exchange, e *httpcache.Entry, resp *http.Response) {
	close(f.ready)

	// A body of unknown length is buffered for the flight's readers only
	// up to MaxObjectSize: past it the fill stops (its readers' responses
	// are cut) and the URL goes straight upstream for a while, streamed,
	// so no origin can make the edge hold an unbounded body in memory.
	body, err := f.readFrom(io.LimitReader(resp.Body, h.cfg.MaxObjectSize+1), resp.ContentLength)
	if err == nil && int64(len(body)) > h.cfg.MaxObjectSize {
		// Mark the URL and leave the set of fills before the readers learn
		// of the failure, so their next request passes instead of joining.
		err = errTooLarge
		h.store.Set(fr.primary, &httpcache.Entry{HitForPass: true, Header: http.Header{}}, h.cfg.HitForPass)
	}
	if err != nil {
		h.flights.fail(f, body[:0], err)
		if !errors.Is(context.Cause(x.ctx), errAbandoned) {
			h.cfg.Logger.Warn("edge: upstream body failed", "key", fr.primary, "err", err)
		}
		return
	}
	final := *e
	final.Body = storedBody(body)
	if !fr.site.Compression.sizeFits(int64(len(body))) {
		final.CodingGen = 0 // of a length now known to be left as it is
	}
	if e.Header.Get("Content-Length") == "" {
		final.Header = e.Header.Clone()
		final.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	h.storeEntry(fr.primary, f.reqHeader, &final, h.cfg.Now())
	h.flights.remove(f)
	f.complete(body)
}

var (
	errBadSlice = errors.New("bad slice response")
	errTooLarge = errors.New("body of unknown length is larger than the largest object stored")
)

// settle publishes a flight's final outcome. The flight leaves the set of
// running ones first, so a request that comes after a client has been
// answered looks at the store again instead of joining a finished fetch.
func (h *Handler) settle(f *flight) {
	h.flights.remove(f)
	close(f.ready)
}

// staleIfError serves the stale entry for a failed fetch when RFC 5861
// allows it, and reports whether it did.
func (h *Handler) staleIfError(f *flight, stale *httpcache.Entry, resp *http.Response, err error, now time.Time) bool {
	if stale == nil || staleForbidden(stale) || -stale.TTL(now) > stale.StaleIfError {
		return false
	}
	code := http.StatusBadGateway
	if err != nil {
		code = errorCode(err)
	} else {
		code = resp.StatusCode
		resp.Body.Close()
	}
	f.entry, f.result = stale, resultStale
	f.cacheStatus = h.hitCacheStatus(stale, now, body{}, "stale-if-error") + "; fwd=stale; fwd-status=" + strconv.Itoa(code)
	h.settle(f)
	return true
}

// mergedHeader is the stored header updated by a 304's (RFC 9111 §4.3.4).
// A 304 without Date is dated now, so Expires counts from the revalidation.
func mergedHeader(stored, h304 http.Header, now time.Time) http.Header {
	m := stored.Clone()
	for k, v := range h304 {
		m[k] = v
	}
	if _, ok := h304["Date"]; !ok {
		m.Set("Date", now.UTC().Format(http.TimeFormat))
	}
	return m
}

func varies(h http.Header, field string) bool {
	for _, n := range httpcache.ParseVary(h) {
		if n == field || n == "*" {
			return true
		}
	}
	return false
}
