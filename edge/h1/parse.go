package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// maxRequestLine bounds the request line; a longer one is answered 414.
const maxRequestLine = 8 << 10

// statusError is a request the server answers itself, with code, and
// then closes the connection.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return "h1: " + e.msg }

func badRequest(msg string) error { return &statusError{http.StatusBadRequest, msg} }

// errClientGone is a head cut short by the client (or a read timeout):
// there is nobody to answer.
var errClientGone = errors.New("h1: connection closed while reading a request")

// readHead reads a request head (the request line, the field lines and
// the empty line) into buf and returns it. Every line must end in CRLF;
// a bare LF or CR is an error.
func readHead(br *bufio.Reader, buf []byte, maxBytes int) ([]byte, error) {
	buf = buf[:0]
	lineStart := 0
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > maxBytes {
			return buf, &statusError{http.StatusRequestHeaderFieldsTooLarge, "request header too large"}
		}
		buf = append(buf, frag...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			if len(buf) == 0 && err == io.EOF {
				return buf, io.EOF
			}
			return buf, errClientGone
		}
		line := buf[lineStart:]
		n := len(line)
		if lineStart == 0 && n > maxRequestLine {
			// Read whole (within maxBytes, else 431 as net/http does).
			return buf, &statusError{http.StatusRequestURITooLong, "request line too long"}
		}
		if n < 2 || line[n-2] != '\r' {
			return buf, badRequest("line not ended by CRLF")
		}
		if bytes.IndexByte(line[:n-2], '\r') >= 0 {
			return buf, badRequest("bare CR")
		}
		if n == 2 {
			if lineStart == 0 {
				return buf, badRequest("empty request line")
			}
			return buf, nil
		}
		lineStart = len(buf)
	}
}

// framing is how a request's body is delimited.
type framing struct {
	length    int64 // -1 when chunked
	chunked   bool
	expect100 bool // the client waits for 100 Continue before the body
}

// parseHead turns a head read by readHead into a request without a body
// or context. The request's strings share one copy of head. It fills r
// (rather than returning a new one) so that the caller's WithContext
// makes the one request that reaches the heap.
func parseHead(r *http.Request, head []byte) (framing, error) {
	var fr framing
	s := string(head)
	eol := strings.Index(s, "\r\n")
	line := s[:eol]
	rest := s[eol+2:]

	method, line, ok := strings.Cut(line, " ")
	if !ok || !isToken(method) {
		return fr, badRequest("malformed request line")
	}
	target, proto, ok := strings.Cut(line, " ")
	if !ok || target == "" || !isTarget(target) {
		return fr, badRequest("malformed request target")
	}
	major, minor, err := parseVersion(proto)
	if err != nil {
		return fr, err
	}
	if method == http.MethodConnect {
		return fr, &statusError{http.StatusMethodNotAllowed, "CONNECT is not served"}
	}
	if target == "*" && method != http.MethodOptions {
		return fr, badRequest("asterisk-form outside OPTIONS")
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return fr, badRequest("malformed request target")
	}
	if target[0] != '/' && target != "*" && (u.Host == "" || u.Opaque != "") {
		return fr, badRequest("request target is not absolute")
	}

	hdr, err := parseFields(rest)
	if err != nil {
		return fr, err
	}

	hosts := hdr["Host"]
	if len(hosts) > 1 || (len(hosts) == 0 && minor == 1) {
		return fr, badRequest("a request needs exactly one Host")
	}
	host := u.Host
	if len(hosts) == 1 {
		if !httpguts.ValidHostHeader(hosts[0]) {
			return fr, badRequest("malformed Host")
		}
		if host == "" {
			host = hosts[0]
		}
		delete(hdr, "Host")
	}
	if hp := hdr["Pragma"]; len(hp) > 0 && hp[0] == "no-cache" {
		if _, ok := hdr["Cache-Control"]; !ok {
			hdr["Cache-Control"] = []string{"no-cache"}
		}
	}

	if fr, err = parseFraming(hdr, minor); err != nil {
		return fr, err
	}

	conn := hdr["Connection"]
	closing := httpguts.HeaderValuesContainsToken(conn, "close")
	if minor == 0 {
		closing = closing || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	}

	if ex, ok := hdr["Expect"]; ok {
		if len(ex) != 1 || !strings.EqualFold(ex[0], "100-continue") {
			return fr, &statusError{http.StatusExpectationFailed, "unknown expectation"}
		}
		fr.expect100 = minor == 1 && fr.length != 0
	}

	proto = "HTTP/1.1"
	if minor == 0 {
		proto = "HTTP/1.0"
	}
	var te []string
	if fr.chunked {
		// As net/http: the coding is the server's business, the field goes.
		te = []string{"chunked"}
		delete(hdr, "Transfer-Encoding")
	}
	*r = http.Request{
		Method:           method,
		URL:              u,
		Proto:            proto,
		ProtoMajor:       major,
		ProtoMinor:       minor,
		Header:           hdr,
		Host:             host,
		RequestURI:       target,
		ContentLength:    fr.length,
		TransferEncoding: te,
		Close:            closing,
	}
	return fr, nil
}

// parseVersion accepts HTTP/1.0 and HTTP/1.1; another well-formed
// version is answered 505.
func parseVersion(v string) (major, minor int, err error) {
	switch v {
	case "HTTP/1.1":
		return 1, 1, nil
	case "HTTP/1.0":
		return 1, 0, nil
	}
	if len(v) == 8 && strings.HasPrefix(v, "HTTP/") && isDigit(v[5]) && v[6] == '.' && isDigit(v[7]) {
		return 0, 0, &statusError{http.StatusHTTPVersionNotSupported, "unsupported HTTP version"}
	}
	return 0, 0, badRequest("malformed HTTP version")
}

// parseFields reads the field lines of s (each ended by CRLF, then an
// empty line) into a canonical header. Like textproto, the value slices
// of all fields share one backing array.
func parseFields(s string) (http.Header, error) {
	n := strings.Count(s, "\r\n") - 1
	hdr := make(http.Header, n)
	strs := make([]string, n)
	for {
		eol := strings.Index(s, "\r\n")
		line := s[:eol]
		s = s[eol+2:]
		if line == "" {
			return hdr, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, badRequest("obsolete line folding")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return nil, badRequest("malformed field line")
		}
		value = trimOWS(value)
		if !validValue(value) {
			return nil, badRequest("control character in a field value")
		}
		key := canonicalKey(name)
		vv := hdr[key]
		if vv == nil && len(strs) > 0 {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = value
			hdr[key] = vv
		} else {
			hdr[key] = append(vv, value)
		}
	}
}

// parseFraming finds how the body is delimited (RFC 9112 section 6).
// Anything a front proxy might read differently is refused: a
// Transfer-Encoding beside a Content-Length, a coding list that does not
// end in chunked, a repeated or listed Content-Length.
func parseFraming(hdr http.Header, minor int) (framing, error) {
	te, cl := hdr["Transfer-Encoding"], hdr["Content-Length"]
	switch {
	case len(te) > 0:
		if minor == 0 {
			return framing{}, badRequest("Transfer-Encoding in an HTTP/1.0 request")
		}
		if len(cl) > 0 {
			return framing{}, badRequest("both Transfer-Encoding and Content-Length")
		}
		var codings []string
		for _, v := range te {
			for c := range strings.SplitSeq(v, ",") {
				c = trimOWS(c)
				if !isToken(c) {
					return framing{}, badRequest("malformed Transfer-Encoding")
				}
				codings = append(codings, c)
			}
		}
		for i, c := range codings {
			if strings.EqualFold(c, "chunked") != (i == len(codings)-1) {
				return framing{}, badRequest("chunked is not the last transfer coding")
			}
		}
		if len(codings) > 1 {
			return framing{}, &statusError{http.StatusNotImplemented, "unsupported transfer coding"}
		}
		return framing{length: -1, chunked: true}, nil
	case len(cl) > 1:
		return framing{}, badRequest("repeated Content-Length")
	case len(cl) == 1:
		n, ok := parseLength(cl[0])
		if !ok {
			return framing{}, badRequest("malformed Content-Length")
		}
		return framing{length: n}, nil
	}
	return framing{}, nil
}

// parseLength parses 1*DIGIT into a non-negative int64.
func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return true
}

// isTarget reports whether s holds only visible ASCII.
func isTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validValue reports whether a field value has no control characters
// other than HTAB (obs-text, bytes from 0x80, is allowed).
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// canonicalKey is textproto's canonical form of a token. A key already in
// that form (the usual case) is returned as is, sharing the head's copy.
func canonicalKey(s string) string {
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (upper && 'a' <= c && c <= 'z') || (!upper && 'A' <= c && c <= 'Z') {
			return canonicalSlow(s)
		}
		upper = c == '-'
	}
	return s
}

func canonicalSlow(s string) string {
	var stack [64]byte
	b := append(stack[:0], s...)
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		} else if !upper && 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	if k, ok := commonKeys[string(b)]; ok {
		return k
	}
	return string(b)
}

// commonKeys interns the canonical forms of keys clients often send in
// another case.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Expect", "Host",
		"If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
		"Pragma", "Range", "Referer", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"User-Agent", "Via", "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-Ip",
	} {
		m[k] = k
	}
	return m
}()
