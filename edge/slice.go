package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/tern-cdn/tern/edge/byterange"
	"github.com/tern-cdn/tern/edge/httpcache"
)

// Large objects are kept as fixed-size slices (like nginx's slice module):
// every fill asks upstream for one slice with a Range request. A small
// object arrives whole in that 206 and is stored as a plain 200; a large
// one gets a head entry (headers, length, validators, no body) and each
// slice is an entry of its own, fetched the first time a client touches
// it. Slices carry their head's generation in their key, and every slice
// must come from the head's representation: a slice whose validators or
// length differ drops the head, so the object is fetched again, never
// mixed.

// errRepresentationChanged says upstream now has another representation
// than the one a head describes.
var errRepresentationChanged = errors.New("upstream representation changed between slices")

// firstSlice is the slice holding the first byte a request wants.
func (h *Handler) firstSlice(r *http.Request) int64 {
	if h.cfg.SliceSize <= 0 {
		return 0
	}
	v := r.Header.Get("Range")
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return 0
	}
	first, _, _ := strings.Cut(spec, "-")
	n, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	if err != nil || n < 0 || strings.Contains(spec, ",") {
		return 0
	}
	return n / h.cfg.SliceSize
}

// sliceRange is the Range header asking for slice i of an object of size
// bytes (size < 0: unknown).
func (h *Handler) sliceRange(i, size int64) string {
	start := i * h.cfg.SliceSize
	end := start + h.cfg.SliceSize - 1
	if size >= 0 && end >= size {
		end = size - 1
	}
	return "bytes=" + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end, 10)
}

// sliceResponse is what a 206 to a slice request says.
type sliceResponse struct {
	partial bool  // the response was a 206
	sliced  bool  // the object is larger than one slice
	total   int64 // the object's length
}

// sliceResponse checks a 206 to a request for slice i: it must be exactly
// that slice of an object of known length.
func (h *Handler) sliceResponse(resp *http.Response, i int64) (sliceResponse, bool) {
	start, end, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
	want := i * h.cfg.SliceSize
	if !ok || total < 0 || start != want || end < start || end >= total ||
		(end != min(want+h.cfg.SliceSize, total)-1) ||
		(resp.ContentLength >= 0 && resp.ContentLength != end-start+1) {
		return sliceResponse{}, false
	}
	return sliceResponse{partial: true, sliced: total > h.cfg.SliceSize, total: total}, true
}

// parseContentRange parses "bytes first-last/complete" (complete "*": -1).
func parseContentRange(v string) (first, last, complete int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, size, found := strings.Cut(spec, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	complete = -1
	if size != "*" {
		complete, err3 = strconv.ParseInt(size, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first {
		return 0, 0, 0, false
	}
	return first, last, complete, true
}

func sliceKey(head string, gen uint64, i int64) string {
	return head + "\x00s" + strconv.FormatUint(gen, 36) + "." + strconv.FormatInt(i, 10)
}

// sliceLen is the length of slice i of head.
func sliceLen(head *httpcache.Entry, i int64) int64 {
	return min(head.SliceSize, head.Size-i*head.SliceSize)
}

// fillSliceBody streams slice i of the head stored under headKey from resp
// into flight f (whose ready channel is still open), stores it and
// completes f.
func (h *Handler) fillSliceBody(f *flight, headKey string, head *httpcache.Entry, i int64, resp *http.Response) {
	n := sliceLen(head, i)
	f.size = n
	close(f.ready)
	h.m.sliceFetches.Inc()
	body, err := f.readFrom(io.LimitReader(resp.Body, n), n)
	if err == nil && int64(len(body)) != n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		h.flights.fail(f, body, err)
		h.cfg.Logger.Warn("edge: upstream slice failed", "key", headKey, "slice", i, "err", err)
		return
	}
	e := &httpcache.Entry{Status: http.StatusPartialContent, Header: http.Header{}, Body: storedBody(body),
		ETag: head.ETag, LastModified: head.LastModified, Tier: head.Tier, ResponseTime: head.ResponseTime}
	if ttl := head.StoreTTL(h.cfg.Now()); ttl > 0 {
		h.store.Set(sliceKey(headKey, head.SliceGen, i), e, ttl)
	}
	h.flights.remove(f)
	f.complete(body)
}

// slices is the body of a sliced object for one request: slice after
// slice, from the store or from upstream.
type sliceReader struct {
	h    *Handler
	r    *http.Request
	site *Site
	key  string // the head's key
	head *httpcache.Entry
	// first is the fill that brought the head, still delivering slice
	// firstIdx.
	first    *flight
	firstIdx int64
	// ahead is the fill prefetch started for slice aheadIdx. get reads
	// it even when the store did not keep the slice (the memory tier may
	// refuse or evict it at once), so a slice is never fetched twice.
	ahead    *flight
	aheadIdx int64
}

func (h *Handler) slicesBody(r *http.Request, s *Site, key string, head *httpcache.Entry, first *flight, firstIdx int64) body {
	return body{kind: bodySlices, n: head.Size,
		slices: &sliceReader{h: h, r: r, site: s, key: key, head: head, first: first, firstIdx: firstIdx}}
}

// entryBody is the body of a stored entry: bytes, a verified file, or
// slices.
func (h *Handler) entryBody(r *http.Request, s *Site, key string, e *httpcache.Entry) (body, error) {
	switch {
	case e.Sliced:
		return h.slicesBody(r, s, key, e, nil, -1), nil
	case e.File != nil:
		f, err := e.File.Open()
		if err != nil {
			return body{}, err
		}
		return fileBody(f, e.File.Size()), nil
	}
	return bytesBody(e.Body), nil
}

// allStored reports whether every slice the request touches is stored.
func (s *sliceReader) allStored() bool {
	first, last := int64(0), s.head.Size-1
	if ranges, err := byterange.Parse(s.r.Header.Get("Range"), s.head.Size); err == nil && len(ranges) == 1 {
		first, last = ranges[0].Start, ranges[0].Start+ranges[0].Length-1
	}
	for i := first / s.head.SliceSize; i <= last/s.head.SliceSize; i++ {
		if i == s.firstIdx && s.first != nil {
			return false
		}
		if _, ok := s.h.store.Get(sliceKey(s.key, s.head.SliceGen, i)); !ok {
			return false
		}
	}
	return true
}

// get returns slice i's body.
func (s *sliceReader) get(ctx context.Context, i int64) (body, error) {
	if s.first != nil && i == s.firstIdx {
		return flightBody(s.first), nil
	}
	if s.ahead != nil && i == s.aheadIdx {
		return waitSlice(ctx, s.ahead)
	}
	key := sliceKey(s.key, s.head.SliceGen, i)
	if e, ok := s.h.store.Get(key); ok {
		b, err := s.h.entryBody(s.r, s.site, key, e)
		if err == nil && b.n == sliceLen(s.head, i) {
			return b, nil
		}
		b.close()
		s.h.store.Delete(key)
	}
	return waitSlice(ctx, s.startFill(ctx, i))
}

// waitSlice returns the body of slice fill f once its outcome is known.
func waitSlice(ctx context.Context, f *flight) (body, error) {
	select {
	case <-f.ready:
	case <-ctx.Done():
		return body{}, ctx.Err()
	}
	if f.err != nil {
		return body{}, f.err
	}
	return flightBody(f), nil
}

// startFill joins, or starts, the fill of slice i.
func (s *sliceReader) startFill(ctx context.Context, i int64) *flight {
	key := sliceKey(s.key, s.head.SliceGen, i)
	f, _ := s.h.flights.join(key, nil,
		func() *flight { return newFlight(key, s.r.Header, ctx.Done()) },
		func(f *flight) { s.h.goSafe(func() { s.h.fillSlice(f, s.r, s.site, s.head, i) }) })
	return f
}

// prefetch starts fetching slice i, if it is not stored or coming, so a
// client reading slice after slice finds the next one arriving already.
func (s *sliceReader) prefetch(i int64) {
	if i*s.head.SliceSize >= s.head.Size || (s.first != nil && i == s.firstIdx) ||
		(s.ahead != nil && i == s.aheadIdx) {
		return
	}
	if _, ok := s.h.store.Get(sliceKey(s.key, s.head.SliceGen, i)); ok {
		return
	}
	s.ahead, s.aheadIdx = s.startFill(s.h.ctx, i), i
}

// writeRange copies bytes [off, off+n) of the object (n < 0: to the end).
func (s *sliceReader) writeRange(ctx context.Context, w io.Writer, flush func(), off, n int64) (int64, error) {
	if n < 0 {
		n = s.head.Size - off
	}
	var written int64
	for written < n {
		pos := off + written
		i := pos / s.head.SliceSize
		b, err := s.get(ctx, i)
		if err != nil {
			return written, err
		}
		if (off+n-1)/s.head.SliceSize > i {
			// After get, which may take slice i from the last prefetch.
			s.prefetch(i + 1)
		}
		within := pos - i*s.head.SliceSize
		m, err := b.writeRange(ctx, w, flush, within, min(n-written, sliceLen(s.head, i)-within))
		b.close()
		written += m
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// sliceReaderAt reads a sliced object at any offset (multipart ranges).
type sliceReaderAt struct {
	ctx context.Context
	s   *sliceReader
}

func (ra sliceReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= ra.s.head.Size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), ra.s.head.Size-off)
	buf := &sliceBuffer{p: p[:0:n]}
	m, err := ra.s.writeRange(ra.ctx, buf, func() {}, off, n)
	if err == nil && m < int64(len(p)) {
		err = io.EOF
	}
	return int(m), err
}

type sliceBuffer struct{ p []byte }

func (b *sliceBuffer) Write(q []byte) (int, error) {
	b.p = append(b.p, q...)
	return len(q), nil
}

// fillSlice fetches slice i of head into flight f. The request carries
// If-Match with a strong ETag so upstream refuses (412) rather than send a
// slice of another representation; whatever comes back is checked against
// the head all the same.
func (h *Handler) fillSlice(f *flight, r *http.Request, s *Site, head *httpcache.Entry, i int64) {
	defer h.flights.remove(f)
	// Stored by a fill that ended just before this one started?
	if e, ok := h.store.Get(f.key); ok && e.File == nil && int64(len(e.Body)) == sliceLen(head, i) {
		f.size = int64(len(e.Body))
		f.complete(e.Body)
		h.settle(f)
		return
	}
	x := h.newExchange(h.ctx, r, s, kindFill, nil)
	defer x.end()
	x.req.Header.Set("Range", h.sliceRange(i, head.Size))
	if head.ETag != "" && !strings.HasPrefix(head.ETag, "W/") {
		x.req.Header.Set("If-Match", head.ETag)
	}
	resp, err := x.send()
	if err != nil {
		f.errCode, f.err = errorCode(err), err
		h.settle(f)
		return
	}
	defer resp.Body.Close()
	headKey := strings.SplitN(f.key, "\x00s", 2)[0]
	switch {
	case resp.StatusCode == http.StatusPartialContent && sameRepresentation(head, resp):
		if part, ok := h.sliceResponse(resp, i); ok && part.total == head.Size {
			h.fillSliceBody(f, headKey, head, i, resp)
			return
		}
	case resp.StatusCode == http.StatusOK && sameRepresentation(head, resp) && resp.ContentLength == head.Size:
		// The upstream ignores Range now: skip to the slice.
		if _, err := io.CopyN(io.Discard, resp.Body, i*head.SliceSize); err == nil {
			h.fillSliceBody(f, headKey, head, i, resp)
			return
		}
	case resp.StatusCode >= 500:
		f.errCode, f.err = http.StatusBadGateway, fmt.Errorf("slice %d: upstream status %d", i, resp.StatusCode)
		h.settle(f)
		return
	}
	// Another representation (or a 412 for ours): drop the head, so the
	// next request fetches the object anew; this one cannot continue.
	h.m.sliceMismatches.Inc()
	h.cfg.Logger.Warn("edge: slice from another representation; refetching the object", "key", headKey, "slice", i, "status", resp.StatusCode)
	h.invalidate(headKey)
	f.errCode, f.err = http.StatusBadGateway, errRepresentationChanged
	h.settle(f)
}

// sameRepresentation checks a slice response's validators against the
// head's: the same strong ETag, or else the same Last-Modified.
func sameRepresentation(head *httpcache.Entry, resp *http.Response) bool {
	etag := resp.Header.Get("ETag")
	if head.ETag != "" || etag != "" {
		return etag == head.ETag && !strings.HasPrefix(etag, "W/")
	}
	return resp.Header.Get("Last-Modified") == head.Header.Get("Last-Modified")
}

// tierFor is the store tier a site keeps the given path in.
func (s *Site) tierFor(p string) httpcache.Tier {
	for _, r := range s.Tiers {
		if ok, _ := path.Match(r.Match, p); ok {
			return r.Tier
		}
		if !strings.Contains(r.Match, "/") {
			if ok, _ := path.Match(r.Match, path.Base(p)); ok {
				return r.Tier
			}
		}
	}
	return s.Tier
}
