package edge

import (
	"context"
	"io"
	"net/http"
	"strconv"
)

// pass forwards a request that the cache does not handle (another method,
// a response that may not be shared, a request that must not be stored)
// and streams the answer back. An unsafe method's success invalidates what
// is stored for its target (RFC 9111 §4.4).
func (h *Handler) pass(w http.ResponseWriter, r *http.Request, s *Site, primary, fwd string, unsafe bool) outcome {
	iw := h.newInterimWriter(w)
	x := h.newExchange(r.Context(), r, s, kindPass, iw)
	defer x.end()
	resp, err := x.send()
	iw.close()
	if err != nil {
		if x.ctx.Err() != nil && r.Context().Err() != nil {
			return outcome{result: resultPass, code: 499}
		}
		h.cfg.Logger.Warn("edge: upstream request failed", "key", primary, "method", r.Method, "err", err)
		code := errorCode(err)
		return h.fail(w, r, code, failureReason(err), upstreamErrorText(code))
	}
	cacheStatus := chainCacheStatus(h.cleanResponseHeader(resp.Header, s), h.name+"; fwd="+fwd)
	if unsafe && r.Method != http.MethodOptions && resp.StatusCode < 400 {
		h.invalidateTargets(r, primary, resp.Header)
	}
	return h.servePassResponse(w, r, resp, cacheStatus, resultPass)
}

// invalidateTargets drops the stored responses for the request's target
// and for same-host Location and Content-Location.
func (h *Handler) invalidateTargets(r *http.Request, primary string, hdr http.Header) {
	h.invalidate(primary)
	host := normalizeHost(r.Host)
	for _, f := range []string{"Location", "Content-Location"} {
		v := hdr.Get(f)
		if v == "" {
			continue
		}
		if u, ok := sameHostTarget(r.URL, host, v); ok {
			h.invalidate(cacheKey(scheme(r), host, u))
		}
	}
}

// servePassResponse streams an upstream response, whose header is
// already cleaned, that is not stored.
func (h *Handler) servePassResponse(w http.ResponseWriter, r *http.Request, resp *http.Response, cacheStatus, result string) outcome {
	defer resp.Body.Close()
	hdr := w.Header()
	for k, v := range resp.Header {
		hdr[k] = v
	}
	if resp.ContentLength >= 0 && hdr.Get("Content-Length") == "" && r.Method != http.MethodHead {
		hdr.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	hdr.Set("Cache-Status", cacheStatus)
	o := outcome{result: result, code: resp.StatusCode}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return o
	}
	n, err := copyFlushing(w, resp.Body)
	o.bytes = n
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		// Never end a body short of its Content-Length as if it were whole.
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return abortOrGone(o, err)
	}
	return o
}

// copyFlushing copies an upstream body to the client, flushing after each
// read so streamed responses (server-sent events, long polls) keep moving.
func copyFlushing(w http.ResponseWriter, body io.Reader) (int64, error) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	var n int64
	for {
		m, rerr := body.Read(buf)
		if m > 0 {
			k, werr := w.Write(buf[:m])
			n += int64(k)
			if werr != nil {
				return n, context.Canceled
			}
			_ = rc.Flush()
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
