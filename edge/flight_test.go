package edge

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadFromKeepsLength: a fill buffer that a body fills exactly is not
// doubled at the end, whether its reader reports io.EOF with the last bytes
// or on a read of its own (as a LimitReader at its limit and HTTP/2 bodies
// do); a body longer than the buffer grows it and arrives whole.
func TestReadFromKeepsLength(t *testing.T) {
	for _, tt := range []struct {
		name    string
		size    int
		hint    int64
		wantCap int
		half    bool // the reader returns half of what is asked each time
	}{
		{name: "announced, EOF on its own read", size: 100 << 10, hint: 100 << 10, wantCap: 100 << 10},
		{name: "announced, half reads", size: 100 << 10, hint: 100 << 10, wantCap: 100 << 10, half: true},
		{name: "unknown, exactly the first buffer", size: 32 << 10, hint: -1, wantCap: 32 << 10},
		{name: "unknown, longer than the first buffer", size: 40 << 10, hint: -1, wantCap: 64 << 10, half: true},
		{name: "announced too short", size: 70 << 10, hint: 50 << 10, wantCap: 100 << 10},
		{name: "empty", size: 0, hint: 0, wantCap: 32 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16)
			var r io.Reader = bytes.NewReader(want)
			if tt.half {
				r = iotest.HalfReader(r)
			}
			f := newFlight("k", nil, nil)
			got, err := f.readFrom(r, tt.hint)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("readFrom = %d bytes, %v; want the %d bytes", len(got), err, len(want))
			}
			if cap(got) != tt.wantCap {
				t.Errorf("buffer capacity %d, want %d", cap(got), tt.wantCap)
			}
			f.complete(got)
			var seen bytes.Buffer
			if _, err := f.writeRange(t.Context(), &seen, func() {}, 0, -1); err != nil || !bytes.Equal(seen.Bytes(), want) {
				t.Errorf("readers see %d bytes, %v; want the %d bytes", seen.Len(), err, len(want))
			}
		})
	}
}

func TestStoredBody(t *testing.T) {
	for _, tt := range []struct {
		len, cap int
		copied   bool
	}{
		{100, 32 << 10, true},
		{30 << 10, 32 << 10, false},   // 2 KiB spare: not worth a copy
		{40 << 10, 64 << 10, true},    // 24 KiB spare
		{950 << 10, 1 << 20, false},   // 74 KiB spare, under an eighth
		{600 << 10, 1 << 20, true},    // 424 KiB spare
		{100 << 10, 100 << 10, false}, // exact
	} {
		b := make([]byte, tt.len, tt.cap)
		b[0] = 7
		s := storedBody(b)
		if len(s) != tt.len || s[0] != 7 {
			t.Errorf("len %d cap %d: stored %d bytes, first %d", tt.len, tt.cap, len(s), s[0])
		}
		if copied := &s[0] != &b[0]; copied != tt.copied {
			t.Errorf("len %d cap %d: copied = %v, want %v", tt.len, tt.cap, copied, tt.copied)
		}
		if tt.copied && cap(s) != tt.len {
			t.Errorf("len %d cap %d: the copy has capacity %d", tt.len, tt.cap, cap(s))
		}
	}
}
