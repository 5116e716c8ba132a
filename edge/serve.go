package edge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tern-cdn/tern/edge/byterange"
	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/precond"
)

// serveEntry writes a stored (or arriving) response to a client: the
// client's preconditions and ranges are answered here, from the entry.
// A hit from memory shares e's header values and body; nothing is copied.
func (h *Handler) serveEntry(w http.ResponseWriter, r *http.Request, e *httpcache.Entry, b body, cacheStatus, result string, now time.Time) outcome {
	return h.serveEntryFields(w, r, e, b, []string{cacheStatus}, []string{ageValue(e, now)}, result)
}

// ageValue is the Age field of e at now, in whole seconds.
func ageValue(e *httpcache.Entry, now time.Time) string {
	return strconv.FormatInt(int64(e.Age(now)/time.Second), 10)
}

// serveHit is serveEntry for a whole hit on a fresh entry, whose
// Cache-Status and Age change only once a second: they are formatted once
// for all the hits of that second (see httpcache.Memo).
func (h *Handler) serveHit(w http.ResponseWriter, r *http.Request, e *httpcache.Entry, b body, result string, now time.Time) outcome {
	if b.kind == bodySlices && !b.slices.allStored() {
		return h.serveEntry(w, r, e, b, h.hitCacheStatus(e, now, b, ""), result, now)
	}
	age, ttl := e.Age(now)/time.Second, e.TTL(now)/time.Second
	key := [2]int64{int64(age), int64(ttl)}
	m := e.Memoized(key)
	if m == nil {
		m = e.Memoize(key, h.hitCacheStatus(e, now, b, ""), ageValue(e, now))
	}
	return h.serveEntryFields(w, r, e, b, m.Fields[0], m.Fields[1], result)
}

// serveEntryFields is serveEntry with the Cache-Status and Age fields
// given; they may be shared with other responses and are never changed.
func (h *Handler) serveEntryFields(w http.ResponseWriter, r *http.Request, e *httpcache.Entry, b body, cacheStatus, age []string, result string) outcome {
	defer b.close()
	hdr := w.Header()
	for k, v := range e.Header {
		hdr[k] = v
	}
	hdr["Age"] = age
	hdr["Cache-Status"] = cacheStatus
	if e.CodingGen != 0 {
		// Other clients get this object compressed.
		hdr["Vary"] = identityVary(e.Header)
	}
	o := outcome{result: result}

	if e.Status/100 == 2 {
		switch precond.Evaluate(r.Method, r.Header, validators(e)) {
		case precond.NotModified:
			deleteAll(hdr, bodyHeaders)
			o.code = http.StatusNotModified
			w.WriteHeader(o.code)
			return o
		case precond.PreconditionFailed:
			deleteAll(hdr, bodyHeaders)
			o.code = http.StatusPreconditionFailed
			w.WriteHeader(o.code)
			return o
		}
	}

	if e.Status == http.StatusOK && r.Method == http.MethodGet && len(r.Header["Range"]) > 0 &&
		precond.IfRange(r.Header, validators(e)) {
		if b.n < 0 {
			// The length is unknown until the body is complete.
			var err error
			if b, err = b.complete(r.Context()); err != nil {
				return abortOrGone(o, err)
			}
		}
		size := b.n
		ranges, err := byterange.Parse(r.Header.Get("Range"), size)
		switch {
		case err != nil:
			deleteAll(hdr, bodyHeaders)
			hdr["Content-Range"] = []string{byterange.UnsatisfiableContentRange(size)}
			o.code = http.StatusRequestedRangeNotSatisfiable
			w.WriteHeader(o.code)
			return o
		case len(ranges) == 1:
			rg := ranges[0]
			hdr["Content-Range"] = []string{rg.ContentRange(size)}
			hdr["Content-Length"] = []string{strconv.FormatInt(rg.Length, 10)}
			o.code = http.StatusPartialContent
			w.WriteHeader(o.code)
			return writeBody(w, r, o, b, rg.Start, rg.Length)
		case len(ranges) > 1:
			if b, err = b.complete(r.Context()); err != nil {
				return abortOrGone(o, err)
			}
			mp := byterange.NewMultipart(ranges, e.Header.Get("Content-Type"), size)
			hdr["Content-Type"] = []string{mp.ContentType()}
			hdr["Content-Length"] = []string{strconv.FormatInt(mp.ContentLength(), 10)}
			delete(hdr, "Content-Encoding")
			o.code = http.StatusPartialContent
			w.WriteHeader(o.code)
			n, err := mp.WriteTo(w, b.readerAt(r.Context(), ranges))
			o.bytes = n
			if err != nil {
				return abortOrGone(o, err)
			}
			return o
		}
	}

	o.code = e.Status
	w.WriteHeader(o.code)
	return writeBody(w, r, o, b, 0, -1)
}

// bodyHeaders describe a body and go when there is none to send.
var bodyHeaders = []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range"}

// writeBody writes [off, off+n) of the body (n < 0: to the end).
func writeBody(w http.ResponseWriter, r *http.Request, o outcome, b body, off, n int64) outcome {
	if r.Method == http.MethodHead {
		return o
	}
	flush := func() {}
	if b.kind == bodyFlight || b.kind == bodySlices {
		rc := http.NewResponseController(w)
		flush = func() { _ = rc.Flush() }
	}
	m, err := b.writeRange(r.Context(), w, flush, off, n)
	o.bytes = m
	if err != nil {
		return abortOrGone(o, err)
	}
	return o
}

// abortOrGone ends a response that could not be completed: if the client
// left, there is nobody to tell; otherwise the connection is dropped so the
// client cannot mistake a cut body for a whole one.
func abortOrGone(o outcome, err error) outcome {
	if errors.Is(err, context.Canceled) {
		if o.code == 0 {
			o.code = 499
		}
		return o
	}
	o.abort = true
	if o.code == 0 {
		o.code = http.StatusBadGateway
	}
	return o
}

func validators(e *httpcache.Entry) precond.Validators {
	return precond.Validators{ETag: e.ETag, LastModified: e.LastModified, Date: e.Date}
}
