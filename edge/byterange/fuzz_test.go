package byterange

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks the invariants of Parse on any input. The seed corpus is
// in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add("bytes=0-99", int64(1000))
	f.Fuzz(func(t *testing.T, header string, size int64) {
		ranges, err := Parse(header, size)
		if err != nil {
			if ranges != nil {
				t.Fatalf("Parse(%q, %d) = %v and error %v", header, size, ranges, err)
			}
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsatisfiable) {
				t.Fatalf("Parse(%q, %d) returned unknown error %v", header, size, err)
			}
			return
		}
		if ranges != nil && len(ranges) == 0 {
			t.Fatalf("Parse(%q, %d) returned an empty non-nil slice", header, size)
		}
		if len(ranges) > MaxRanges {
			t.Fatalf("Parse(%q, %d) returned %d ranges, more than %d", header, size, len(ranges), MaxRanges)
		}
		var sum int64
		for i, r := range ranges {
			if r.Start < 0 || r.Length <= 0 || r.Start >= size || r.Length > size-r.Start {
				t.Fatalf("Parse(%q, %d): range %d %+v is outside [0, %d)", header, size, i, r, size)
			}
			for j, o := range ranges[:i] {
				if r.Start < o.Start+o.Length && o.Start < r.Start+r.Length {
					t.Fatalf("Parse(%q, %d): ranges %d %+v and %d %+v overlap", header, size, j, o, i, r)
				}
			}
			sum += r.Length
		}
		if sum > size && len(ranges) > 0 {
			t.Fatalf("Parse(%q, %d): lengths sum to %d", header, size, sum)
		}
		// A range written as ContentRange parses back to itself, when its
		// positions fit the 18 digits Parse accepts.
		for _, r := range ranges {
			if r.Start+r.Length > 1e18 {
				continue
			}
			cr := r.ContentRange(size)
			again, err := Parse("bytes="+cr[len("bytes "):strings.IndexByte(cr, '/')], size)
			if err != nil || len(again) != 1 || again[0] != r {
				t.Fatalf("Parse(%q, %d): range %+v does not round-trip through ContentRange: %v, %v", header, size, r, again, err)
			}
		}
	})
}
