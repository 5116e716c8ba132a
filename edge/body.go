package edge

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/tern-cdn/tern/edge/byterange"
	"github.com/tern-cdn/tern/edge/httpcache"
)

// bodyKind says where a response body's bytes come from.
type bodyKind uint8

const (
	bodyBytes  bodyKind = iota // complete, in memory
	bodyFile                   // a file of the disk tier
	bodyFlight                 // arriving from a fill
	bodySlices                 // the slices of a sliced object
)

// body is a response body to copy to a client. It is a small value so a
// hit from memory allocates nothing for it.
type body struct {
	kind   bodyKind
	bytes  []byte
	file   httpcache.File
	flight *flight
	slices *sliceReader
	n      int64 // length; -1 while unknown (a flight without Content-Length)
}

func bytesBody(b []byte) body                 { return body{kind: bodyBytes, bytes: b, n: int64(len(b))} }
func fileBody(f httpcache.File, n int64) body { return body{kind: bodyFile, file: f, n: n} }
func flightBody(f *flight) body               { return body{kind: bodyFlight, flight: f, n: f.size} }

// close releases what the body holds open.
func (b body) close() {
	if b.file != nil {
		b.file.Close()
	}
}

// complete waits, if it must, until the body's length is known and returns
// the body in a form that can be read at any offset.
func (b body) complete(ctx context.Context) (body, error) {
	if b.kind != bodyFlight {
		return b, nil
	}
	all, err := b.flight.wait(ctx)
	if err != nil {
		return b, err
	}
	return bytesBody(all), nil
}

// writeRange copies bytes [off, off+n) of the body to w (n < 0: to the
// end). Files go out with sendfile where the connection allows it.
func (b body) writeRange(ctx context.Context, w io.Writer, flush func(), off, n int64) (int64, error) {
	switch b.kind {
	case bodyFile:
		if n < 0 {
			n = b.n - off
		}
		if n <= smallFileBody {
			return writeSmallFile(w, b.file, off, n)
		}
		if _, err := b.file.Seek(off, io.SeekStart); err != nil {
			return 0, err
		}
		// A LimitedReader over a File keeps net/http's sendfile path
		// (HTTP/1.1); a writer without ReadFrom (HTTP/2, HTTP/3) gets the
		// body through a pooled buffer instead of a new one per hit.
		buf := smallFileBufs.Get().(*[smallFileBody]byte)
		m, err := io.CopyBuffer(w, io.LimitReader(b.file, n), buf[:])
		smallFileBufs.Put(buf)
		if err == nil && m < n {
			err = io.ErrUnexpectedEOF
		}
		return m, err
	case bodyFlight:
		return b.flight.writeRange(ctx, w, flush, off, n)
	case bodySlices:
		return b.slices.writeRange(ctx, w, flush, off, n)
	}
	end := int64(len(b.bytes))
	if n >= 0 {
		end = off + n
	}
	m, err := w.Write(b.bytes[off:end])
	return int64(m), err
}

// smallFileBody is the largest file body (or range of one) read with one
// pread into a buffer and written with the header in one write, rather
// than sent with sendfile (which net/http reaches after copying the first
// 512 bytes itself: lseek, read, write, sendfile, lseek). Measured with
// BenchmarkHitLoopback on 2 shared cores: at 1 KiB, 27–35 µs a hit read
// against 39–46 µs sent; at 100 KiB the two were within noise (44–50 µs
// read, 45–65 µs sent), and sendfile spares the copy, so it keeps the
// larger bodies.
const smallFileBody = 32 << 10

var smallFileBufs = sync.Pool{New: func() any { return new([smallFileBody]byte) }}

// writeSmallFile writes [off, off+n) of f, n <= smallFileBody, with one
// pread; the file's position is not used, nor moved.
func writeSmallFile(w io.Writer, f io.ReaderAt, off, n int64) (int64, error) {
	buf := smallFileBufs.Get().(*[smallFileBody]byte)
	defer smallFileBufs.Put(buf)
	m, err := f.ReadAt(buf[:n], off)
	if m < int(n) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	k, err := w.Write(buf[:n])
	return int64(k), err
}

// readerAt gives random access to a complete body for a multipart
// response with ranges.
func (b body) readerAt(ctx context.Context, ranges []byterange.Range) io.ReaderAt {
	switch b.kind {
	case bodyFile:
		return b.file
	case bodySlices:
		return b.slices.readerAt(ctx, ranges)
	}
	return bytes.NewReader(b.bytes)
}
