package byterange

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"
)

// testBody returns size bytes in which every position is distinguishable.
func testBody(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestMultipartRoundTrip(t *testing.T) {
	const size = 10000
	body := testBody(size)
	tests := []struct {
		name        string
		header      string
		contentType string
	}{
		{"two", "bytes=0-99,200-299", "application/pdf"},
		{"out of order", "bytes=9000-9099,0-0,-5", "text/plain; charset=utf-8"},
		{"adjacent", "bytes=0-9,10-19,20-29", "image/png"},
		{"no content type", "bytes=0-0,9999-9999", ""},
		{"max ranges", disjoint(MaxRanges), "application/octet-stream"},
		{"whole and more", "bytes=0-4999,5000-", "video/mp4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ranges, err := Parse(tt.header, size)
			if err != nil || len(ranges) < 2 {
				t.Fatalf("Parse(%q) = %v, %v; want several ranges", tt.header, ranges, err)
			}
			m := NewMultipart(ranges, tt.contentType, size)

			var out bytes.Buffer
			n, err := m.WriteTo(&out, bytes.NewReader(body))
			if err != nil {
				t.Fatalf("WriteTo: %v", err)
			}
			if n != int64(out.Len()) {
				t.Errorf("WriteTo returned %d, wrote %d bytes", n, out.Len())
			}
			if m.ContentLength() != int64(out.Len()) {
				t.Errorf("ContentLength() = %d, wrote %d bytes", m.ContentLength(), out.Len())
			}

			mediaType, params, err := mime.ParseMediaType(m.ContentType())
			if err != nil || mediaType != "multipart/byteranges" {
				t.Fatalf("ContentType() = %q: %q, %v", m.ContentType(), mediaType, err)
			}
			if !strings.HasPrefix(out.String(), "--"+params["boundary"]+"\r\n") {
				t.Errorf("body does not start with the delimiter: %.60q", out.String())
			}
			if want := "\r\n--" + params["boundary"] + "--\r\n"; !strings.HasSuffix(out.String(), want) {
				t.Errorf("body does not end with %q: %q", want, out.String()[max(0, out.Len()-60):])
			}

			mr := multipart.NewReader(&out, params["boundary"])
			for i, r := range ranges {
				p, err := mr.NextRawPart()
				if err != nil {
					t.Fatalf("part %d: %v", i, err)
				}
				if got := p.Header.Get("Content-Type"); got != tt.contentType {
					t.Errorf("part %d Content-Type = %q, want %q", i, got, tt.contentType)
				}
				if _, ok := p.Header["Content-Type"]; !ok && tt.contentType != "" || ok && tt.contentType == "" {
					t.Errorf("part %d Content-Type presence = %v, want %v", i, ok, tt.contentType != "")
				}
				if got, want := p.Header.Get("Content-Range"), r.ContentRange(size); got != want {
					t.Errorf("part %d Content-Range = %q, want %q", i, got, want)
				}
				if len(p.Header) != 1+btoi(tt.contentType != "") {
					t.Errorf("part %d has unexpected headers: %v", i, p.Header)
				}
				data, err := io.ReadAll(p)
				if err != nil {
					t.Fatalf("part %d: reading: %v", i, err)
				}
				if want := body[r.Start : r.Start+r.Length]; !bytes.Equal(data, want) {
					t.Errorf("part %d data: got %d bytes, want %d bytes of %s", i, len(data), len(want), r.ContentRange(size))
				}
			}
			if p, err := mr.NextRawPart(); err != io.EOF {
				t.Fatalf("after %d parts: got part %v, err %v; want io.EOF", len(ranges), p, err)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestMultipartGolden pins the exact bytes, CRLFs included.
func TestMultipartGolden(t *testing.T) {
	body := []byte("0123456789abcdefghij")
	m := newMultipart([]Range{{0, 3}, {15, 5}}, "text/plain", int64(len(body)), "B0UND")
	want := "--B0UND\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Range: bytes 0-2/20\r\n" +
		"\r\n" +
		"012\r\n" +
		"--B0UND\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Range: bytes 15-19/20\r\n" +
		"\r\n" +
		"fghij\r\n" +
		"--B0UND--\r\n"
	var out bytes.Buffer
	n, err := m.WriteTo(&out, bytes.NewReader(body))
	if err != nil || out.String() != want || n != int64(len(want)) || m.ContentLength() != int64(len(want)) {
		t.Fatalf("WriteTo = %d, %v, ContentLength %d\n got %q\nwant %q", n, err, m.ContentLength(), out.String(), want)
	}
	if got := m.ContentType(); got != "multipart/byteranges; boundary=B0UND" {
		t.Fatalf("ContentType() = %q", got)
	}
}

func TestMultipartNoRanges(t *testing.T) {
	m := newMultipart(nil, "text/plain", 10, "B")
	var out bytes.Buffer
	n, err := m.WriteTo(&out, bytes.NewReader(nil))
	if err != nil || out.String() != "--B--\r\n" || n != 7 || m.ContentLength() != 7 {
		t.Fatalf("WriteTo = %d, %v, %q; ContentLength %d", n, err, out.String(), m.ContentLength())
	}
}

func TestMultipartContentTypeSanitized(t *testing.T) {
	m := newMultipart([]Range{{0, 1}}, "text/plain\r\nX-Evil: 1\x00", 1, "B")
	var out bytes.Buffer
	if _, err := m.WriteTo(&out, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	want := "--B\r\nContent-Type: text/plain  X-Evil: 1 \r\nContent-Range: bytes 0-0/1\r\n\r\nx\r\n--B--\r\n"
	if out.String() != want || m.ContentLength() != int64(len(want)) {
		t.Fatalf("got %q (ContentLength %d), want %q", out.String(), m.ContentLength(), want)
	}
}

func TestNewMultipartBoundary(t *testing.T) {
	ranges := []Range{{0, 1}, {2, 1}}
	a, b := NewMultipart(ranges, "", 3), NewMultipart(ranges, "", 3)
	if a.boundary == b.boundary {
		t.Fatalf("two boundaries are equal: %q", a.boundary)
	}
	for _, m := range []*Multipart{a, b} {
		if len(m.boundary) != 32 || strings.Trim(m.boundary, "0123456789abcdef") != "" {
			t.Fatalf("boundary %q is not 32 hex digits", m.boundary)
		}
	}
	ranges[0] = Range{1, 1} // NewMultipart keeps its own copy
	if a.ranges[0] != (Range{0, 1}) {
		t.Fatalf("NewMultipart aliases its ranges argument")
	}
}

func TestMultipartShortBody(t *testing.T) {
	m := newMultipart([]Range{{0, 2}, {8, 2}}, "", 10, "B")
	var out bytes.Buffer
	n, err := m.WriteTo(&out, strings.NewReader("012345678")) // 9 of 10 bytes
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("WriteTo error = %v, want io.ErrUnexpectedEOF", err)
	}
	if n != int64(out.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d", n, out.Len())
	}
}

// failWriter accepts limit bytes, then fails.
type failWriter struct{ limit int }

var errWrite = errors.New("write failed")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, errWrite
	}
	w.limit -= len(p)
	return len(p), nil
}

func TestMultipartWriteError(t *testing.T) {
	body := strings.NewReader("0123456789")
	m := newMultipart([]Range{{0, 2}, {8, 2}}, "text/plain", 10, "B")
	for limit := range int(m.ContentLength()) {
		n, err := m.WriteTo(&failWriter{limit: limit}, body)
		if !errors.Is(err, errWrite) {
			t.Fatalf("limit %d: WriteTo error = %v, want errWrite", limit, err)
		}
		if n != int64(limit) {
			t.Fatalf("limit %d: WriteTo returned %d", limit, n)
		}
	}
	if n, err := m.WriteTo(&failWriter{limit: int(m.ContentLength())}, body); err != nil || n != m.ContentLength() {
		t.Fatalf("exact limit: WriteTo = %d, %v", n, err)
	}
}

func BenchmarkMultipartWriteTo(b *testing.B) {
	const size = 1 << 20
	body := bytes.NewReader(testBody(size))
	ranges, err := Parse("bytes=0-1023,4096-8191,-1024", size)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(NewMultipart(ranges, "application/octet-stream", size).ContentLength())
	for b.Loop() {
		m := NewMultipart(ranges, "application/octet-stream", size)
		if _, err := m.WriteTo(io.Discard, body); err != nil {
			b.Fatal(err)
		}
	}
}
