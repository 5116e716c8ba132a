package h1

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// sniffLen is how much of a body without a declared length the writer
// holds back: a body that ends within it gets a Content-Length, and its
// start decides a missing Content-Type (as net/http's 2 KiB buffer and
// 512-byte sniff).
const sniffLen = 2 << 10

var errAfterHandler = errors.New("h1: write after the handler returned")

// response is the http.ResponseWriter of a connection, reused for each of
// its requests: a handler must not keep it after ServeHTTP returns (the
// contract of http.ResponseWriter).
type response struct {
	c    *conn
	body *body // of the request; nil for none
	hdr  http.Header
	pend []byte      // body held back while buffering
	sent http.Header // the header as WriteHeader saw it, if changed since; else hdr

	isHead, is11 bool
	status       int   // final status; 0 until WriteHeader
	cl           int64 // declared Content-Length; -1 for none
	written      int64
	headerSent   bool // the final header is in c.bw
	buffering    bool // body bytes go to pend: the header waits for them
	chunked      bool
	noBody       bool // the status has no body
	closeAfter   bool
	done         bool // the handler returned
}

func (w *response) reset(r *http.Request, body *body) {
	clear(w.hdr)
	*w = response{
		c:          w.c,
		body:       body,
		hdr:        w.hdr,
		pend:       w.pend[:0],
		isHead:     r.Method == http.MethodHead,
		is11:       r.ProtoMinor == 1,
		cl:         -1,
		closeAfter: r.Close,
	}
}

func (w *response) Header() http.Header {
	if w.buffering && w.sent == nil {
		// The header is logically written but waits for the body: keep
		// what it was, as net/http does, for changes made now.
		w.sent = w.hdr.Clone()
	}
	return w.hdr
}

func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("h1: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.done {
		return
	}
	if w.status != 0 {
		w.c.s.logger().Debug("h1: superfluous WriteHeader", "code", code, "status", w.status)
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.status = code
	if v := w.hdr["Content-Length"]; len(v) > 0 {
		n, ok := parseLength(strings.TrimSpace(v[0]))
		if ok && len(v) == 1 {
			w.cl = n
		} else {
			w.c.s.logger().Debug("h1: invalid Content-Length from the handler", "value", v)
			delete(w.hdr, "Content-Length")
		}
	}
	w.noBody = code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	_, hasType := w.hdr["Content-Type"]
	_, hasEncoding := w.hdr["Content-Encoding"]
	if !w.noBody && (w.cl < 0 || (!hasType && !hasEncoding)) {
		w.buffering = true
		return
	}
	w.sendHeader(nil)
}

func (w *response) Write(p []byte) (int, error) {
	if w.done {
		return 0, errAfterHandler
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.cl >= 0 && w.written > w.cl {
		return 0, http.ErrContentLength
	}
	if w.buffering {
		if len(w.pend)+len(p) <= sniffLen {
			w.pend = append(w.pend, p...)
			return len(p), nil
		}
		if err := w.sendHeader(p); err != nil {
			return 0, err
		}
	}
	return w.writeBody(p)
}

func (w *response) WriteString(s string) (int, error) {
	if !w.headerSent || w.buffering || w.chunked || w.noBody || w.isHead || w.done {
		return w.Write([]byte(s))
	}
	w.written += int64(len(s))
	if w.cl >= 0 && w.written > w.cl {
		return 0, http.ErrContentLength
	}
	return w.c.bw.WriteString(s)
}

// writeBody writes body bytes after the header: as a chunk when chunked,
// nothing for HEAD.
func (w *response) writeBody(p []byte) (int, error) {
	if w.isHead || len(p) == 0 {
		return len(p), nil
	}
	bw := w.c.bw
	if w.chunked {
		b := strconv.AppendInt(bw.AvailableBuffer(), int64(len(p)), 16)
		b = append(b, '\r', '\n')
		bw.Write(b)
	}
	n, err := bw.Write(p)
	if err == nil && w.chunked {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		w.closeAfter = true
	}
	return n, err
}

// ReadFrom lets io.Copy into the response reach the connection's own
// ReadFrom (sendfile from a file) once the header is out and the body
// is neither chunked nor held back.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	rf, ok := w.c.rwc.(io.ReaderFrom)
	if !ok || w.done || !w.headerSent || w.chunked || w.isHead || w.noBody {
		return copyBuffer(writerOnly{w}, src)
	}
	if err := w.c.bw.Flush(); err != nil {
		w.closeAfter = true
		return 0, err
	}
	if w.cl < 0 {
		n, err := rf.ReadFrom(src)
		w.written += n
		return n, err
	}
	remain := w.cl - w.written
	// One io.LimitedReader around the file, not two: sendfile looks
	// through one only.
	outer, ok := src.(*io.LimitedReader)
	if !ok {
		outer = &io.LimitedReader{R: src, N: 1<<63 - 1}
	}
	inner := &io.LimitedReader{R: outer.R, N: min(outer.N, remain)}
	n, err := rf.ReadFrom(inner)
	outer.N -= n
	w.written += n
	if err != nil || n < remain || outer.N <= 0 {
		return n, err
	}
	var one [1]byte
	if m, _ := io.ReadFull(outer, one[:]); m > 0 {
		return n, http.ErrContentLength
	}
	return n, nil
}

type writerOnly struct{ io.Writer }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func copyBuffer(dst io.Writer, src io.Reader) (int64, error) {
	b := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(b)
	return io.CopyBuffer(dst, src, *b)
}

// Flush sends what is buffered, the header first.
func (w *response) Flush() { w.FlushError() }

// FlushError is Flush with its error, for http.ResponseController.
func (w *response) FlushError() error {
	if w.done {
		return errAfterHandler
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerSent {
		if err := w.sendHeader(nil); err != nil {
			return err
		}
	}
	err := w.c.bw.Flush()
	if err != nil {
		w.closeAfter = true
	}
	return err
}

// SetReadDeadline is for http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rwc.SetReadDeadline(t) }

// SetWriteDeadline is for http.ResponseController.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rwc.SetWriteDeadline(t) }

// finish completes the response after the handler returned and reports
// whether it reached the connection whole.
func (w *response) finish() bool {
	w.c.wmu.Lock()
	w.done = true
	w.c.wmu.Unlock()
	if w.status == 0 {
		w.done = false
		w.WriteHeader(http.StatusOK)
		w.done = true
	}
	if !w.headerSent {
		if err := w.sendHeader(nil); err != nil {
			return false
		}
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString("0\r\n\r\n")
	}
	if !w.noBody && !w.isHead && w.cl >= 0 && w.written < w.cl {
		// A body short of its Content-Length: the client must not take
		// it for whole, nor read the next response as its rest.
		w.closeAfter = true
	}
	return bw.Flush() == nil
}

// sendHeader writes the status line and the header into the connection's
// buffer, deciding the framing, then what body was held back. A missing
// Content-Type is sniffed from that body, or else from next, the write
// that did not fit beside it.
func (w *response) sendHeader(next []byte) error {
	c := w.c
	hdr := w.hdr
	if w.sent != nil {
		hdr = w.sent
	}
	if w.body != nil && !w.closeAfter && w.body.settle() {
		w.closeAfter = true
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w.headerSent = true
	held := w.buffering
	w.buffering = false

	var sniffed string
	computedCL := false
	if !w.noBody {
		if held {
			data := w.pend
			if len(data) == 0 {
				data = next
			}
			if _, ok := hdr["Content-Type"]; !ok && len(data) > 0 {
				if _, ok := hdr["Content-Encoding"]; !ok {
					sniffed = http.DetectContentType(data)
				}
			}
		}
		switch {
		case w.cl >= 0:
		case w.done && (!w.isHead || len(w.pend) > 0):
			w.cl = int64(len(w.pend))
			computedCL = true
		case w.isHead:
		case w.is11:
			w.chunked = true
		default:
			w.closeAfter = true
		}
	}
	handlerClose := httpguts.HeaderValuesContainsToken(hdr["Connection"], "close")
	if handlerClose {
		w.closeAfter = true
	}
	if c.s.shuttingDown() || c.bodyBroken.Load() {
		w.closeAfter = true
	}

	bw := c.bw
	b := bw.AvailableBuffer()
	b = appendStatusLine(b, w.is11, w.status)
	bw.Write(b)
	for k, vv := range hdr {
		switch k {
		case "Transfer-Encoding":
			continue
		case "Connection":
			// As net/http: closing, the handler's own "close" stands,
			// other tokens go.
			if w.closeAfter && !handlerClose {
				continue
			}
		case "Content-Length":
			if w.noBody && w.status != http.StatusNotModified {
				continue
			}
		}
		if !httpguts.ValidHeaderFieldName(k) {
			c.s.logger().Debug("h1: dropped a response field with an invalid name", "name", k)
			continue
		}
		for _, v := range vv {
			if strings.ContainsAny(v, "\r\n\x00") {
				c.s.logger().Debug("h1: dropped a response field value with CR, LF or NUL", "name", k)
				continue
			}
			writeField(bw, k, strings.TrimSpace(v))
		}
	}
	if _, ok := hdr["Date"]; !ok {
		bw.Write(c.s.dateField())
	}
	if computedCL {
		b := append(bw.AvailableBuffer(), "Content-Length: "...)
		b = strconv.AppendInt(b, w.cl, 10)
		b = append(b, '\r', '\n')
		bw.Write(b)
	}
	if sniffed != "" {
		writeField(bw, "Content-Type", sniffed)
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter && w.is11 && !handlerClose:
		bw.WriteString("Connection: close\r\n")
	case !w.closeAfter && !w.is11:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	_, err := bw.WriteString("\r\n")
	if held && len(w.pend) > 0 {
		_, err = w.writeBody(w.pend)
	}
	return err
}

func writeField(bw interface {
	AvailableBuffer() []byte
	Write([]byte) (int, error)
}, k, v string) {
	b := bw.AvailableBuffer()
	b = append(b, k...)
	b = append(b, ':', ' ')
	b = append(b, v...)
	b = append(b, '\r', '\n')
	bw.Write(b)
}

// writeInterim sends a 1xx response with the current header; the handler
// goes on to the final one.
func (w *response) writeInterim(code int) {
	c := w.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if w.headerSent || w.done {
		return
	}
	bw := c.bw
	bw.Write(appendStatusLine(bw.AvailableBuffer(), w.is11, code))
	for k, vv := range w.hdr {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			if !strings.ContainsAny(v, "\r\n\x00") {
				writeField(bw, k, strings.TrimSpace(v))
			}
		}
	}
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		w.closeAfter = true
	}
}

func appendStatusLine(b []byte, is11 bool, code int) []byte {
	if is11 {
		b = append(b, "HTTP/1.1 "...)
	} else {
		b = append(b, "HTTP/1.0 "...)
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if text := http.StatusText(code); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, '\r', '\n')
}

// dateField is "Date: <now>\r\n", formatted at most once a second.
func (s *Server) dateField() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := s.date.Load(); d != nil && d.sec == sec {
		return d.field
	}
	d := &date{sec: sec}
	d.field = append([]byte("Date: "), now.UTC().Format(http.TimeFormat)...)
	d.field = append(d.field, '\r', '\n')
	s.date.Store(d)
	return d.field
}

type date struct {
	sec   int64
	field []byte
}
