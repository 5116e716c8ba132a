package edge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/tern-cdn/tern/edge/byterange"
	"github.com/tern-cdn/tern/edge/precond"
	"github.com/tern-cdn/tern/origin"
)

// A fill whose response may not be shared hands it to the request that
// started the fill, so that one client request makes one upstream request
// (the requests that joined the fill make their own). The fill asked for
// the whole representation, or for one slice of it, without the client's
// conditionals and range: the answer to the client's own request is made
// here from what the response holds, and only when it cannot be (a range
// beyond the slice fetched, the whole of an object larger than a slice)
// does the request go upstream again on its own.

// handoff is the response of a pass fill for its creator. The fill's
// upstream request must live until the body is read: release ends it, and
// the creator calls it once it is done with the body. (Ending it when the
// fill returns would cut the body the creator is still copying: an HTTP/2
// stream reset, or a closed HTTP/1.1 connection.)
type handoff struct {
	resp    *http.Response
	release func()
}

// span is the part of a representation a response body holds: n bytes
// from first on, of total (n and total -1 when unknown).
type span struct{ first, n, total int64 }

func (s span) whole() bool { return s.first == 0 && s.n == s.total }

func (s span) holds(rg byterange.Range) bool {
	return rg.Start >= s.first && rg.Start+rg.Length <= s.first+s.n
}

// representationSpan says what part of the representation a 200 or 206
// holds; ok is false for any other status, or a 206 that does not say.
func representationSpan(resp *http.Response) (s span, ok bool) {
	switch resp.StatusCode {
	case http.StatusOK:
		return span{0, resp.ContentLength, resp.ContentLength}, true
	case http.StatusPartialContent:
		first, last, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		n := last - first + 1
		if !ok || total < 0 || last >= total || (resp.ContentLength >= 0 && resp.ContentLength != n) {
			return span{}, false
		}
		return span{first, n, total}, true
	}
	return span{}, false
}

// serveHandoff answers r, the request that started a pass fill, from the
// fill's response. It reports false, having closed the response, when the
// response cannot answer r: the caller then forwards r on its own.
func (h *Handler) serveHandoff(w http.ResponseWriter, r *http.Request, ho *handoff, cacheStatus string) (outcome, bool) {
	defer ho.release()
	// The fill's upstream request is not bound to r; stop it when r goes.
	stop := context.AfterFunc(r.Context(), ho.release)
	defer stop()
	resp := ho.resp

	sp, isRepresentation := representationSpan(resp)
	if !isRepresentation {
		if resp.StatusCode == http.StatusPartialContent {
			resp.Body.Close()
			return outcome{}, false
		}
		// An error, a redirect…: the same answer whatever r's range.
		return h.servePassResponse(w, r, resp, cacheStatus, resultMiss), true
	}
	v := responseValidators(resp.Header)
	switch precond.Evaluate(r.Method, r.Header, v) {
	case precond.NotModified:
		return h.servePassBodiless(w, resp, http.StatusNotModified, "", cacheStatus), true
	case precond.PreconditionFailed:
		return h.servePassBodiless(w, resp, http.StatusPreconditionFailed, "", cacheStatus), true
	}

	var ranges []byterange.Range
	var rangeErr error
	// An empty representation is sent whole, whatever the range (as Go's
	// ServeContent does): every range of it is unsatisfiable, and a 416
	// would make a fill asking for a slice ask again.
	if r.Method == http.MethodGet && r.Header.Get("Range") != "" && sp.total > 0 && precond.IfRange(r.Header, v) {
		ranges, rangeErr = byterange.Parse(r.Header.Get("Range"), sp.total)
	}
	switch {
	case rangeErr != nil:
		cr := byterange.UnsatisfiableContentRange(sp.total)
		return h.servePassBodiless(w, resp, http.StatusRequestedRangeNotSatisfiable, cr, cacheStatus), true
	case len(ranges) == 1 && sp.holds(ranges[0]):
		return h.servePassRange(w, r, resp, sp, ranges[0], cacheStatus), true
	case len(ranges) == 1:
		resp.Body.Close()
		return outcome{}, false
	case r.Method == http.MethodHead && sp.total >= 0, sp.whole():
		// The whole representation (a 200 of unknown length is whole
		// too; several ranges may be answered with it, RFC 9110 §14.2),
		// or its header for a HEAD.
		wholeResponse(resp, sp)
		return h.servePassResponse(w, r, resp, cacheStatus, resultMiss), true
	}
	resp.Body.Close()
	return outcome{}, false
}

// wholeResponse makes resp, which holds sp, the header of a 200 of the
// whole representation.
func wholeResponse(resp *http.Response, sp span) {
	if resp.StatusCode == http.StatusOK {
		return
	}
	resp.StatusCode = http.StatusOK
	delete(resp.Header, "Content-Range")
	resp.Header.Set("Content-Length", strconv.FormatInt(sp.total, 10))
	resp.ContentLength = sp.total
}

// servePassRange answers a ranged GET with range rg of the representation
// from resp, which holds sp.
func (h *Handler) servePassRange(w http.ResponseWriter, r *http.Request, resp *http.Response, sp span, rg byterange.Range, cacheStatus string) outcome {
	defer resp.Body.Close()
	// The bytes before the range came with the slice the fill asked for.
	if _, err := io.CopyN(io.Discard, resp.Body, rg.Start-sp.first); err != nil {
		if errors.Is(err, context.Canceled) {
			return outcome{result: resultMiss, code: 499}
		}
		h.cfg.Logger.Warn("edge: upstream body failed", "url", r.URL.String(), "err", err)
		return h.fail(w, r, http.StatusBadGateway, origin.ReasonUpstreamError, upstreamErrorText(http.StatusBadGateway))
	}
	hdr := w.Header()
	for k, vs := range resp.Header {
		hdr[k] = vs
	}
	hdr["Content-Range"] = []string{rg.ContentRange(sp.total)}
	hdr["Content-Length"] = []string{strconv.FormatInt(rg.Length, 10)}
	hdr.Set("Cache-Status", cacheStatus)
	o := outcome{result: resultMiss, code: http.StatusPartialContent}
	w.WriteHeader(o.code)
	n, err := copyFlushing(w, io.LimitReader(resp.Body, rg.Length))
	o.bytes = n
	if err == nil && n < rg.Length {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return abortOrGone(o, err)
	}
	return o
}

// servePassBodiless answers with code and resp's header, without its
// body: the answer to a failed precondition or (with its contentRange)
// an unsatisfiable range.
func (h *Handler) servePassBodiless(w http.ResponseWriter, resp *http.Response, code int, contentRange, cacheStatus string) outcome {
	resp.Body.Close()
	hdr := w.Header()
	for k, vs := range resp.Header {
		hdr[k] = vs
	}
	deleteAll(hdr, bodyHeaders)
	if contentRange != "" {
		hdr["Content-Range"] = []string{contentRange}
	}
	hdr.Set("Cache-Status", cacheStatus)
	w.WriteHeader(code)
	return outcome{result: resultMiss, code: code}
}

// responseValidators are the validators of an upstream response's header.
func responseValidators(hdr http.Header) precond.Validators {
	v := precond.Validators{ETag: hdr.Get("ETag")}
	// Zero when absent: without a Date, Last-Modified is no strong
	// validator for If-Range.
	v.LastModified, _ = http.ParseTime(hdr.Get("Last-Modified"))
	v.Date, _ = http.ParseTime(hdr.Get("Date"))
	return v
}
