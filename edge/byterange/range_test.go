package byterange

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	// r builds the expected ranges from start, length pairs.
	r := func(sl ...int64) []Range {
		var rs []Range
		for i := 0; i < len(sl); i += 2 {
			rs = append(rs, Range{Start: sl[i], Length: sl[i+1]})
		}
		return rs
	}
	many := func(n int, spec string) string {
		return "bytes=" + strings.TrimSuffix(strings.Repeat(spec+",", n), ",")
	}

	tests := []struct {
		name   string
		header string
		size   int64
		want   []Range
		err    error
	}{
		// Ignored: serve 200.
		{"empty", "", 1000, nil, nil},
		{"only OWS", " \t ", 1000, nil, nil},
		{"other unit", "items=0-5", 1000, nil, nil},
		{"other unit with junk", "pages=abc", 1000, nil, nil},
		{"unit prefix of bytes", "byte=0-5", 1000, nil, nil},
		{"unit longer than bytes", "bytess=0-5", 1000, nil, nil},
		{"negative size", "bytes=0-5", -1, nil, nil},
		{"negative size malformed", "bytes=abc", -1, nil, nil},
		{"overlap", "bytes=0-10,5-20", 1000, nil, nil},
		{"overlap contained", "bytes=0-99,10-20", 1000, nil, nil},
		{"overlap identical", "bytes=5-5,5-5", 1000, nil, nil},
		{"overlap suffix and open", "bytes=500-,-600", 1000, nil, nil},
		{"overlap after clamping", "bytes=990-2000,995-", 1000, nil, nil},
		{"overlap out of order", "bytes=50-60,0-55", 1000, nil, nil},
		{"overlap among three", "bytes=0-1,10-20,2-3,15-15", 1000, nil, nil},
		{"max plus one ranges", many(MaxRanges+1, "0-0"), 1000, nil, nil},
		{"max plus one disjoint", disjoint(MaxRanges + 1), 1000, nil, nil},
		{"max plus one, last malformed", disjoint(MaxRanges) + ",abc", 1000, nil, nil},
		{"CVE-2011-3192 style overlapping", many(1300, "0-"), 1000, nil, nil},
		{"many tiny overlapping", "bytes=0-0,0-1,0-2,0-3,0-4,0-5,0-6,0-7,0-8,0-9", 1000, nil, nil},

		// Single range.
		{"first-last", "bytes=0-99", 1000, r(0, 100), nil},
		{"one byte", "bytes=0-0", 1000, r(0, 1), nil},
		{"last byte", "bytes=999-999", 1000, r(999, 1), nil},
		{"last clamped", "bytes=500-5000", 1000, r(500, 500), nil},
		{"last exactly size", "bytes=0-1000", 1000, r(0, 1000), nil},
		{"open", "bytes=100-", 1000, r(100, 900), nil},
		{"open from zero", "bytes=0-", 1000, r(0, 1000), nil},
		{"open last byte", "bytes=999-", 1000, r(999, 1), nil},
		{"suffix", "bytes=-100", 1000, r(900, 100), nil},
		{"suffix one", "bytes=-1", 1000, r(999, 1), nil},
		{"suffix equals size", "bytes=-1000", 1000, r(0, 1000), nil},
		{"suffix larger than size", "bytes=-5000", 1000, r(0, 1000), nil},
		{"suffix 18 digits", "bytes=-999999999999999999", 1000, r(0, 1000), nil},
		{"unit upper case", "BYTES=0-9", 1000, r(0, 10), nil},
		{"unit mixed case", "ByTeS=0-9", 1000, r(0, 10), nil},
		{"OWS around value", " \tbytes=0-9 \t", 1000, r(0, 10), nil},
		{"OWS around equals", "bytes \t= 0-9", 1000, r(0, 10), nil},
		{"leading zeros", "bytes=000-0009", 1000, r(0, 10), nil},
		{"18 digit first unsatisfiable", "bytes=999999999999999999-", 1000, nil, ErrUnsatisfiable},
		{"18 digit last clamped", "bytes=5-999999999999999999", 1000, r(5, 995), nil},
		{"huge size", "bytes=-10", 1 << 62, r(1<<62-10, 10), nil},
		{"size one", "bytes=0-", 1, r(0, 1), nil},
		{"empty elements", "bytes=,0-9,", 1000, r(0, 10), nil},
		{"only empty elements and one spec", "bytes= , ,0-9, ,", 1000, r(0, 10), nil},

		// Several ranges.
		{"two", "bytes=0-9,20-29", 1000, r(0, 10, 20, 10), nil},
		{"adjacent not coalesced", "bytes=0-9,10-19", 1000, r(0, 10, 10, 10), nil},
		{"order kept", "bytes=500-599,0-99", 1000, r(500, 100, 0, 100), nil},
		{"OWS around commas", "bytes=0-9 ,\t20-29 , -10", 1000, r(0, 10, 20, 10, 990, 10), nil},
		{"open and suffix disjoint", "bytes=0-99,-100", 1000, r(0, 100, 900, 100), nil},
		{"unsatisfiable dropped", "bytes=0-9,2000-3000", 1000, r(0, 10), nil},
		{"unsatisfiable dropped first", "bytes=1000-,-0,5-6", 1000, r(5, 2), nil},
		{"suffix zero dropped", "bytes=-0,0-0", 1000, r(0, 1), nil},
		{"max ranges", disjoint(MaxRanges), 1000, disjointWant(MaxRanges), nil},
		{"empty elements do not count", disjoint(MaxRanges) + ",,,", 1000, disjointWant(MaxRanges), nil},

		// Unsatisfiable: 416.
		{"first equals size", "bytes=1000-", 1000, nil, ErrUnsatisfiable},
		{"first beyond size", "bytes=1000-2000", 1000, nil, ErrUnsatisfiable},
		{"suffix zero", "bytes=-0", 1000, nil, ErrUnsatisfiable},
		{"suffix zeros", "bytes=-000", 1000, nil, ErrUnsatisfiable},
		{"all unsatisfiable", "bytes=1000-,2000-3000,-0", 1000, nil, ErrUnsatisfiable},
		{"size zero first", "bytes=0-0", 0, nil, ErrUnsatisfiable},
		{"size zero open", "bytes=0-", 0, nil, ErrUnsatisfiable},
		{"size zero suffix", "bytes=-1", 0, nil, ErrUnsatisfiable},
		{"size zero several", "bytes=0-5,-5", 0, nil, ErrUnsatisfiable},

		// Invalid: 416.
		{"no equals", "bytes", 1000, nil, ErrInvalid},
		{"no equals with spec", "bytes 0-9", 1000, nil, ErrInvalid},
		{"garbage", "garbage", 1000, nil, ErrInvalid},
		{"empty unit", "=0-9", 1000, nil, ErrInvalid},
		{"unit not a token", "by tes=0-9", 1000, nil, ErrInvalid},
		{"unit with separator", "bytes;x=0-9", 1000, nil, ErrInvalid},
		{"empty range-set", "bytes=", 1000, nil, ErrInvalid},
		{"only commas", "bytes=,,", 1000, nil, ErrInvalid},
		{"only OWS and commas", "bytes= , \t,", 1000, nil, ErrInvalid},
		{"letters", "bytes=abc", 1000, nil, ErrInvalid},
		{"letters in last", "bytes=0-x", 1000, nil, ErrInvalid},
		{"hex", "bytes=0x10-0x20", 1000, nil, ErrInvalid},
		{"reversed", "bytes=5-1", 1000, nil, ErrInvalid},
		{"reversed beyond size", "bytes=2000-1500", 1000, nil, ErrInvalid},
		{"reversed with valid", "bytes=0-9,5-1", 1000, nil, ErrInvalid},
		{"missing dash", "bytes=5", 1000, nil, ErrInvalid},
		{"missing dash with valid", "bytes=0-9,5", 1000, nil, ErrInvalid},
		{"lone dash", "bytes=-", 1000, nil, ErrInvalid},
		{"double dash", "bytes=--5", 1000, nil, ErrInvalid},
		{"two dashes", "bytes=1-2-3", 1000, nil, ErrInvalid},
		{"dash dash tail", "bytes=5--6", 1000, nil, ErrInvalid},
		{"plus sign first", "bytes=+1-2", 1000, nil, ErrInvalid},
		{"plus sign last", "bytes=1-+2", 1000, nil, ErrInvalid},
		{"plus sign suffix", "bytes=-+2", 1000, nil, ErrInvalid},
		{"negative first", "bytes=-1-5", 1000, nil, ErrInvalid},
		{"space inside spec", "bytes=0 - 9", 1000, nil, ErrInvalid},
		{"space inside number", "bytes=1 0-20", 1000, nil, ErrInvalid},
		{"semicolon separator", "bytes=0-1;2-3", 1000, nil, ErrInvalid},
		{"19 digit first", "bytes=1000000000000000000-", 1000, nil, ErrInvalid},
		{"19 digit last", "bytes=0-1000000000000000000", 1000, nil, ErrInvalid},
		{"19 digit suffix", "bytes=-1000000000000000000", 1000, nil, ErrInvalid},
		{"int64 overflow", "bytes=0-9223372036854775808", 1000, nil, ErrInvalid},
		{"19 zeros", "bytes=0000000000000000000-", 1000, nil, ErrInvalid},
		{"unicode digit", "bytes=٣-5", 1000, nil, ErrInvalid},
		{"invalid beats unsatisfiable", "bytes=2000-,abc", 1000, nil, ErrInvalid},
		{"invalid on size zero", "bytes=abc", 0, nil, ErrInvalid},
		{"reversed on size zero", "bytes=5-1", 0, nil, ErrInvalid},
		// The literal Apache Killer header: "5-0" is a reversed range, so
		// the field is malformed and rejected before any amplification.
		{"CVE-2011-3192 literal", apacheKiller(), 1000, nil, ErrInvalid},
		{"NUL byte", "bytes=0-\x009", 1000, nil, ErrInvalid},
		{"CRLF", "bytes=0-9\r\n", 1000, nil, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.header, tt.size)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Parse(%q, %d) error = %v, want %v", tt.header, tt.size, err, tt.err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Parse(%q, %d) = %v, want %v", tt.header, tt.size, got, tt.want)
			}
			if (got == nil) != (tt.want == nil) {
				t.Fatalf("Parse(%q, %d) = %#v, want %#v (nil-ness differs)", tt.header, tt.size, got, tt.want)
			}
		})
	}
}

// disjoint returns a Range field of n disjoint ten-byte ranges, every 20 bytes.
func disjoint(n int) string {
	specs := make([]string, n)
	for i := range specs {
		specs[i] = fmt.Sprintf("%d-%d", i*20, i*20+9)
	}
	return "bytes=" + strings.Join(specs, ",")
}

// disjointWant is what Parse returns for disjoint(n).
func disjointWant(n int) []Range {
	rs := make([]Range, n)
	for i := range rs {
		rs[i] = Range{Start: int64(i) * 20, Length: 10}
	}
	return rs
}

// apacheKiller returns the Range field of the CVE-2011-3192 exploit:
// "bytes=0-,5-0,5-1,...,5-1299".
func apacheKiller() string {
	specs := []string{"0-"}
	for i := range 1300 {
		specs = append(specs, fmt.Sprintf("5-%d", i))
	}
	return "bytes=" + strings.Join(specs, ",")
}

func TestApacheKillerShape(t *testing.T) {
	got := apacheKiller()
	if !strings.HasPrefix(got, "bytes=0-,5-0,5-1,5-2,") || !strings.HasSuffix(got, ",5-1299") {
		t.Fatalf("apacheKiller() = %.40q...%q", got, got[len(got)-20:])
	}
	if d := disjoint(3); d != "bytes=0-9,20-29,40-49" {
		t.Fatalf("disjoint(3) = %q", d)
	}
}

func TestContentRange(t *testing.T) {
	tests := []struct {
		r    Range
		size int64
		want string
	}{
		{Range{0, 100}, 1000, "bytes 0-99/1000"},
		{Range{999, 1}, 1000, "bytes 999-999/1000"},
		{Range{0, 1}, 1, "bytes 0-0/1"},
		{Range{1<<62 - 10, 10}, 1 << 62, "bytes 4611686018427387894-4611686018427387903/4611686018427387904"},
	}
	for _, tt := range tests {
		if got := tt.r.ContentRange(tt.size); got != tt.want {
			t.Errorf("%v.ContentRange(%d) = %q, want %q", tt.r, tt.size, got, tt.want)
		}
		if got := string(tt.r.AppendContentRange([]byte("x"), tt.size)); got != "x"+tt.want {
			t.Errorf("%v.AppendContentRange(x, %d) = %q, want %q", tt.r, tt.size, got, "x"+tt.want)
		}
	}
	if got := UnsatisfiableContentRange(1000); got != "bytes */1000" {
		t.Errorf("UnsatisfiableContentRange(1000) = %q", got)
	}
	if got := UnsatisfiableContentRange(0); got != "bytes */0" {
		t.Errorf("UnsatisfiableContentRange(0) = %q", got)
	}
}

// TestParseSingleRangeAllocs guards the no-allocation promise of Parse.
func TestParseSingleRangeAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumentation changes inlining and escape analysis")
	}
	var sum int64
	allocs := testing.AllocsPerRun(100, func() {
		rs, err := Parse("bytes=0-99", 1000)
		if err != nil || len(rs) != 1 {
			panic("unexpected Parse result")
		}
		sum += rs[0].Length
	})
	if allocs != 0 {
		t.Fatalf("Parse(single range) allocates %v times, want 0", allocs)
	}
}

// BenchmarkParse measures the common single-range request. It must report
// 0 allocs/op: the result stays on the stack as long as it does not escape.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	var sum int64
	for b.Loop() {
		rs, err := Parse("bytes=0-99", 1000)
		if err != nil || len(rs) != 1 {
			b.Fatal("unexpected Parse result") // passing rs would make it escape
		}
		sum += rs[0].Length
	}
	if sum == 0 {
		b.Fatal("no work")
	}
}

func BenchmarkParseMulti(b *testing.B) {
	b.ReportAllocs()
	h := disjoint(MaxRanges)
	for b.Loop() {
		rs, err := Parse(h, 1000)
		if err != nil || len(rs) != MaxRanges {
			b.Fatal("unexpected Parse result")
		}
	}
}

func BenchmarkParseApacheKiller(b *testing.B) {
	b.ReportAllocs()
	h := strings.Repeat("0-,", 1300)
	h = "bytes=" + h[:len(h)-1]
	for b.Loop() {
		if rs, err := Parse(h, 1000); rs != nil || err != nil {
			b.Fatal("unexpected Parse result")
		}
	}
}

func BenchmarkContentRange(b *testing.B) {
	b.ReportAllocs()
	r := Range{Start: 0, Length: 100}
	for b.Loop() {
		if s := r.ContentRange(1000); len(s) == 0 {
			b.Fatal(s)
		}
	}
}
