package h1

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"sync"
)

// Limits of a chunked request body's framing.
const (
	maxChunkLine    = 4 << 10 // a chunk-size line with its extensions
	maxTrailerBytes = 8 << 10 // all trailer field lines together
)

var (
	errChunk    = errors.New("h1: malformed chunked request body")
	errBodyGone = errors.New("h1: connection closed while reading a request body")
)

// body is a request body read from the connection: Content-Length bytes
// or a chunked body, decoded strictly. Handlers may read it from other
// goroutines, also after ServeHTTP returned (then it is closed).
type body struct {
	br  *bufio.Reader
	c   *conn   // for 100 Continue; nil in the fuzzer
	ctx *reqCtx // told when the body is read; nil in the fuzzer

	mu        sync.Mutex
	chunked   bool
	remain    int64 // of the body (length) or of the current chunk (chunked)
	needCRLF  bool  // a chunk's data is read and its CRLF is not
	expect100 bool  // 100 Continue is still to be sent
	eof       bool
	err       error // a framing or read error; the connection is unusable
	closed    bool
}

func newBody(br *bufio.Reader, fr framing) *body {
	b := &body{br: br, chunked: fr.chunked, remain: fr.length, expect100: fr.expect100}
	if fr.chunked {
		b.remain = 0
	}
	return b
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.readLocked(p)
}

func (b *body) readLocked(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.expect100 {
		b.expect100 = false
		if b.c != nil {
			if err := b.c.writeContinue(); err != nil {
				return 0, b.fail(err)
			}
		}
	}
	if b.chunked && b.remain == 0 {
		if err := b.nextChunk(); err != nil {
			return 0, b.fail(err)
		}
		if b.eof {
			return 0, io.EOF
		}
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.br.Read(p)
	b.remain -= int64(n)
	if err != nil {
		if err == io.EOF {
			err = errBodyGone
		}
		return n, b.fail(err)
	}
	if b.remain == 0 {
		if !b.chunked {
			b.setEOF()
			return n, io.EOF
		}
		b.needCRLF = true
	}
	return n, nil
}

func (b *body) fail(err error) error {
	b.err = err
	if b.c != nil {
		b.c.bodyBroken.Store(true)
	}
	return err
}

func (b *body) setEOF() {
	b.eof = true
	if b.ctx != nil {
		b.ctx.bodyEOF()
	}
}

// nextChunk reads up to the next chunk's data: the CRLF ending the chunk
// before, the chunk-size line and, after the last chunk, the trailer
// section (read and dropped).
func (b *body) nextChunk() error {
	if b.needCRLF {
		crlf, err := b.br.Peek(2)
		if err != nil {
			return errBodyGone
		}
		if crlf[0] != '\r' || crlf[1] != '\n' {
			return errChunk
		}
		b.br.Discard(2)
		b.needCRLF = false
	}
	line, err := b.readLine(maxChunkLine)
	if err != nil {
		return err
	}
	size, ok := parseChunkSize(line)
	if !ok {
		return errChunk
	}
	if size > 0 {
		b.remain = size
		return nil
	}
	for total := 0; ; {
		line, err := b.readLine(maxTrailerBytes - total)
		if err != nil {
			return err
		}
		total += len(line) + 2
		if len(line) == 0 {
			b.setEOF()
			return nil
		}
		name, value, ok := cutByte(line, ':')
		if !ok || !isToken(string(name)) || !validValue(string(value)) || line[0] == ' ' || line[0] == '\t' {
			return errChunk
		}
	}
}

// readLine reads one CRLF-ended line of at most max bytes and returns it
// without the CRLF; it is valid until the next read.
func (b *body) readLine(max int) ([]byte, error) {
	line, err := b.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull || len(line) > max:
		return nil, errChunk
	case err != nil:
		return nil, errBodyGone
	}
	n := len(line)
	if n < 2 || line[n-2] != '\r' {
		return nil, errChunk
	}
	line = line[:n-2]
	for _, c := range line {
		if c == '\r' {
			return nil, errChunk
		}
	}
	return line, nil
}

// parseChunkSize parses chunk-size [chunk-ext]: 1 to 15 hex digits, then
// extensions, which are checked for control characters and ignored.
func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto ext
		}
		if i == 15 {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
ext:
	if i == 0 {
		return 0, false
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && (rest[0] != ';' || !validValue(string(rest))) {
		return 0, false
	}
	return n, true
}

func cutByte(s []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range s {
		if c == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, nil, false
}

// settle gets the connection ready for the response once its header is
// to be written, as net/http does: a client may send its whole request
// before it reads the answer, so what is left of a small body is read and
// dropped now; it reports whether the connection must close after the
// response instead (a body too large to drop, a broken one, one the
// client still holds back for 100 Continue, or one the handler closed
// unread).
func (b *body) settle() (closeAfter bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.eof:
		return false
	case b.err != nil, b.expect100, b.closed:
		return true
	case !b.chunked && b.remain >= maxDrain:
		return true
	}
	return !b.discardLocked(maxDrain)
}

// discardLocked reads and drops the rest of the body, up to max bytes; it
// reports whether it reached the end.
func (b *body) discardLocked(max int64) bool {
	var buf [4 << 10]byte
	for n := int64(0); n <= max; {
		m, err := b.readLocked(buf[:])
		n += int64(m)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// Close marks the body closed: later reads fail. The server reads what is
// left itself.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// drain reads and drops what is left of the body, up to max bytes, and
// closes it; it reports whether the connection can read a next request.
// A client still waiting for 100 Continue has not sent the body: the
// connection cannot be reused.
func (b *body) drain(max int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer func() {
		// A request kept by the handler does not keep the connection.
		b.br, b.c, b.ctx = nil, nil, nil
	}()
	b.closed = true
	if b.err != nil {
		return false
	}
	if b.eof {
		return true
	}
	if b.expect100 {
		return false
	}
	return b.discardLocked(max)
}
