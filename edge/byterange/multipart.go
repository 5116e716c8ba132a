package byterange

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Multipart writes a multipart/byteranges body (RFC 9110 §14.6) for a set of
// ranges of one representation. Its length is known before the first byte is
// written, so the response can carry a Content-Length.
//
// The body is, for each range in order:
//
//	"--" boundary CRLF
//	"Content-Type: " contentType CRLF     (only if contentType != "")
//	"Content-Range: bytes first-last/size" CRLF
//	CRLF
//	the range's bytes CRLF
//
// followed by "--" boundary "--" CRLF.
type Multipart struct {
	ranges      []Range
	size        int64
	boundary    string
	contentType string
	length      int64
}

// NewMultipart returns a Multipart for ranges of a representation of size
// bytes whose Content-Type is contentType ("" if it has none; CR, LF and NUL
// in it are replaced by SP, as RFC 9110 §5.5 allows). The boundary is 32
// random hex digits from crypto/rand. ranges should come from
// Parse(..., size); NewMultipart keeps a copy of it.
func NewMultipart(ranges []Range, contentType string, size int64) *Multipart {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return newMultipart(ranges, contentType, size, hex.EncodeToString(b[:]))
}

// newMultipart is NewMultipart with a chosen boundary, for tests.
func newMultipart(ranges []Range, contentType string, size int64, boundary string) *Multipart {
	if strings.ContainsAny(contentType, "\r\n\x00") {
		contentType = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == 0 {
				return ' '
			}
			return r
		}, contentType)
	}
	m := &Multipart{
		ranges:      slices.Clone(ranges),
		size:        size,
		boundary:    boundary,
		contentType: contentType,
	}
	var scratch [128]byte
	for _, r := range m.ranges {
		m.length += int64(len(m.appendPartHeader(scratch[:0], r))+len("\r\n")) + r.Length
	}
	m.length += int64(len("--") + len(boundary) + len("--\r\n"))
	return m
}

// ContentType returns the Content-Type field value of the response:
// "multipart/byteranges; boundary=" followed by the boundary.
func (m *Multipart) ContentType() string {
	return "multipart/byteranges; boundary=" + m.boundary
}

// ContentLength returns the exact number of bytes WriteTo writes when body
// holds at least size bytes.
func (m *Multipart) ContentLength() int64 { return m.length }

// WriteTo writes the multipart body to w, reading each range's bytes from
// body, and returns the number of bytes written. If body ends before a range
// does, it stops with an error wrapping [io.ErrUnexpectedEOF].
func (m *Multipart) WriteTo(w io.Writer, body io.ReaderAt) (int64, error) {
	var written int64
	buf := make([]byte, 0, 64+len(m.boundary)+len(m.contentType))
	for i, r := range m.ranges {
		buf = buf[:0]
		if i > 0 {
			// End the previous part's data in the same write.
			buf = append(buf, "\r\n"...)
		}
		buf = m.appendPartHeader(buf, r)
		n, err := w.Write(buf)
		written += int64(n)
		if err != nil {
			return written, fmt.Errorf("byterange: writing part %d header: %w", i, err)
		}
		c, err := io.Copy(w, io.NewSectionReader(body, r.Start, r.Length))
		written += c
		if err != nil {
			return written, fmt.Errorf("byterange: copying part %d: %w", i, err)
		}
		if c != r.Length {
			return written, fmt.Errorf("byterange: copying part %d (%s): body ended after %d bytes: %w",
				i, r.ContentRange(m.size), c, io.ErrUnexpectedEOF)
		}
	}
	buf = buf[:0]
	if len(m.ranges) > 0 {
		buf = append(buf, "\r\n"...)
	}
	buf = append(buf, "--"...)
	buf = append(buf, m.boundary...)
	buf = append(buf, "--\r\n"...)
	n, err := w.Write(buf)
	written += int64(n)
	if err != nil {
		return written, fmt.Errorf("byterange: writing closing delimiter: %w", err)
	}
	return written, nil
}

// appendPartHeader appends the delimiter line and header section of the
// part for r, up to and including the empty line before its data.
func (m *Multipart) appendPartHeader(dst []byte, r Range) []byte {
	dst = append(dst, "--"...)
	dst = append(dst, m.boundary...)
	dst = append(dst, "\r\n"...)
	if m.contentType != "" {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, m.contentType...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Range: "...)
	dst = r.AppendContentRange(dst, m.size)
	return append(dst, "\r\n\r\n"...)
}
