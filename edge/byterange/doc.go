// Package byterange parses Range request header fields and writes
// multipart/byteranges bodies, as RFC 9110 §14 describes them, for the cache
// hit path of the edge. It does no I/O beyond the [io.Writer] and
// [io.ReaderAt] it is handed, keeps no state, and [Parse] does not allocate
// on the common single-range path when its result does not escape.
//
// A handler that has a stored representation of size bytes and has already
// decided (with package precond) that the Range field applies uses it so:
//
//	ranges, err := byterange.Parse(r.Header.Get("Range"), size)
//	switch {
//	case err != nil: // ErrInvalid or ErrUnsatisfiable
//		w.Header().Set("Content-Range", byterange.UnsatisfiableContentRange(size))
//		// 416 Range Not Satisfiable
//	case len(ranges) == 0:
//		// ignore the field: 200 with the whole representation
//	case len(ranges) == 1:
//		w.Header().Set("Content-Range", ranges[0].ContentRange(size))
//		// 206 with ranges[0].Length bytes from ranges[0].Start
//	default:
//		m := byterange.NewMultipart(ranges, contentType, size)
//		w.Header().Set("Content-Type", m.ContentType())
//		w.Header().Set("Content-Length", strconv.FormatInt(m.ContentLength(), 10))
//		// 206, then m.WriteTo(w, body)
//	}
//
// # What Parse ignores, and why
//
// RFC 9110 lets a server ignore a Range field (serve 200) whenever it likes,
// and requires it to for a unit it does not know. Parse returns nil, nil for:
//
//   - an empty field value (only OWS);
//   - a range unit other than "bytes" (compared case-insensitively);
//   - a negative size (the length is unknown, so no range can be resolved);
//   - more than [MaxRanges] non-empty range-specs;
//   - two or more satisfiable ranges of which any two overlap.
//
// Ranges are never coalesced or reordered: a multi-range answer carries the
// satisfiable ranges in the order they were asked for (RFC 9110 §14.6 asks
// for that order). Because overlapping sets are refused, the ranges returned
// are disjoint, so their lengths never sum to more than size: together with
// the cap of MaxRanges parts this bounds a 206 to size bytes plus a fixed
// per-part overhead, which defeats the "many overlapping ranges" amplification
// of Apache's CVE-2011-3192 (for example "bytes=0-,0-,0-,...").
//
// # Errors
//
// [ErrInvalid] means the ranges-specifier is malformed; [ErrUnsatisfiable]
// means it is well formed but no range in it selects any byte. RFC 9110
// allows a 416 for both, and that is what the edge sends. Range-specs are
// examined left to right: the first malformed one among the first MaxRanges
// decides ErrInvalid, and a range-spec after the MaxRanges-th makes Parse
// stop and return nil, nil without looking at it.
package byterange
