package edge

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/tern-cdn/tern/edge/byterange"
)

// A multi-range request over a sliced object would fill every slice it
// touches: sixteen one-byte ranges in sixteen slices cost sixteen slices of
// upstream traffic for a response of a few kilobytes. So the small ranges
// that fall in slices not stored are fetched as they are, in one upstream
// request carrying just those ranges (every tier does the same, so a
// shield asks its origin for them alike), when they add up to at most one
// slice; the slices stay unstored. Larger ranges fill their slices as any
// read does: those bytes go to the client anyway.

// sparsePart is one range fetched on its own, with its bytes.
type sparsePart struct {
	start int64
	data  []byte
}

// sparseReaderAt reads a sliced object for a multipart response: the
// sparse ranges from what one upstream request brought, the rest from the
// slices.
type sparseReaderAt struct {
	sliceReaderAt
	parts []sparsePart
}

// readerAt is the sliced body's reader for a multipart response with
// ranges; it fetches the sparse ranges first.
func (s *sliceReader) readerAt(ctx context.Context, ranges []byterange.Range) io.ReaderAt {
	ra := &sparseReaderAt{sliceReaderAt: sliceReaderAt{ctx: ctx, s: s}}
	want := s.sparseRanges(ranges)
	if len(want) == 0 {
		return ra
	}
	parts, err := s.fetchSparse(ctx, want)
	if err != nil {
		// The slices will do: costlier, but right.
		s.h.cfg.Logger.Debug("edge: sparse range fetch failed; reading slices", "key", s.key, "err", err)
		return ra
	}
	s.h.m.sparseFetches.Inc()
	ra.parts = parts
	return ra
}

func (ra *sparseReaderAt) ReadAt(p []byte, off int64) (int, error) {
	for _, part := range ra.parts {
		if off >= part.start && off+int64(len(p)) <= part.start+int64(len(part.data)) {
			return copy(p, part.data[off-part.start:]), nil
		}
	}
	return ra.sliceReaderAt.ReadAt(p, off)
}

// sparseRanges are the ranges worth fetching on their own: shorter than a
// slice, touching a slice that is neither stored nor coming, and together
// at most a slice long. Any other case returns none.
func (s *sliceReader) sparseRanges(ranges []byterange.Range) []byterange.Range {
	var want []byterange.Range
	var total int64
	for _, rg := range ranges {
		if rg.Length >= s.head.SliceSize || s.haveSlices(rg) {
			continue
		}
		total += rg.Length
		want = append(want, rg)
	}
	if total > s.head.SliceSize || len(want) < 2 {
		// One range: a single-range request fills its slice as any does.
		return nil
	}
	return want
}

// haveSlices reports whether every slice rg touches is stored or being
// fetched.
func (s *sliceReader) haveSlices(rg byterange.Range) bool {
	for i := rg.Start / s.head.SliceSize; i <= (rg.Start+rg.Length-1)/s.head.SliceSize; i++ {
		if (s.first != nil && i == s.firstIdx) || (s.ahead != nil && i == s.aheadIdx) {
			continue
		}
		key := sliceKey(s.key, s.head.SliceGen, i)
		if _, ok := s.h.store.Get(key); !ok && !s.h.flights.running(key) {
			return false
		}
	}
	return true
}

// fetchSparse asks upstream for ranges of the head's representation in one
// request and returns their bytes.
func (s *sliceReader) fetchSparse(ctx context.Context, ranges []byterange.Range) ([]sparsePart, error) {
	x := s.h.newExchange(ctx, s.r, s.site, kindFill, nil)
	defer x.end()
	specs := make([]string, len(ranges))
	var total int64
	for i, rg := range ranges {
		specs[i] = strconv.FormatInt(rg.Start, 10) + "-" + strconv.FormatInt(rg.Start+rg.Length-1, 10)
		total += rg.Length
	}
	x.req.Header.Set("Range", "bytes="+strings.Join(specs, ","))
	if s.head.ETag != "" && !strings.HasPrefix(s.head.ETag, "W/") {
		x.req.Header.Set("If-Match", s.head.ETag)
	}
	resp, err := x.send()
	if err != nil {
		return nil, fmt.Errorf("sparse ranges: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !sameRepresentation(s.head, resp) {
		return nil, fmt.Errorf("sparse ranges: upstream status %d", resp.StatusCode)
	}
	// The parts' own headers and delimiters come on top of their bytes.
	limit := total + int64(len(ranges))*512 + 4096
	body := io.LimitReader(resp.Body, limit)
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		// A single part: upstream merged the ranges into one.
		part, err := s.readPart(resp.Header.Get("Content-Range"), body)
		if err != nil {
			return nil, err
		}
		return coverRanges([]sparsePart{part}, ranges)
	}
	mr := multipart.NewReader(body, params["boundary"])
	var parts []sparsePart
	for len(parts) <= len(ranges) {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sparse ranges: %w", err)
		}
		part, err := s.readPart(p.Header.Get("Content-Range"), p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	return coverRanges(parts, ranges)
}

// readPart reads one part of an object of the head's length.
func (s *sliceReader) readPart(contentRange string, r io.Reader) (sparsePart, error) {
	first, last, complete, ok := parseContentRange(contentRange)
	if !ok || complete != s.head.Size || last >= complete || last-first+1 > s.head.SliceSize {
		return sparsePart{}, fmt.Errorf("sparse ranges: bad Content-Range %q", contentRange)
	}
	data := make([]byte, last-first+1)
	if _, err := io.ReadFull(r, data); err != nil {
		return sparsePart{}, fmt.Errorf("sparse ranges: part %s: %w", contentRange, err)
	}
	return sparsePart{start: first, data: data}, nil
}

// coverRanges checks that parts hold every byte of ranges.
func coverRanges(parts []sparsePart, ranges []byterange.Range) ([]sparsePart, error) {
	for _, rg := range ranges {
		covered := false
		for _, p := range parts {
			if rg.Start >= p.start && rg.Start+rg.Length <= p.start+int64(len(p.data)) {
				covered = true
				break
			}
		}
		if !covered {
			return nil, fmt.Errorf("sparse ranges: upstream left out %s", rg.ContentRange(-1))
		}
	}
	return parts, nil
}
