package h1

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRefused sends requests a strict server must refuse, each on its own
// connection: it answers with the status and Connection: close, closes,
// and the handler never sees them.
func TestRefused(t *testing.T) {
	var calls atomic.Int32
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
	}), func(s *Server) { s.MaxHeaderBytes = 16 << 10 })
	const get = "GET / HTTP/1.1\r\nHost: a\r\n"
	const post = "POST / HTTP/1.1\r\nHost: a\r\n"
	tests := []struct {
		name, raw string
		code      int
	}{
		// Request smuggling: framing two parsers could read differently.
		{"CL.TE", post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400},
		{"TE.CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG", 400},
		{"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n", 400},
		{"TE chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n", 400},
		{"TE chunked twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE chunked listed twice", post + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"TE gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
		{"TE space before colon", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE folded", post + "X: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE vertical tab", post + "Transfer-Encoding:\vchunked\r\n\r\n0\r\n\r\n", 400},
		{"TE empty list element", post + "Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"CL twice, same", post + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
		{"CL twice, different", post + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400},
		{"CL listed", post + "Content-Length: 1, 1\r\n\r\nx", 400},
		{"CL plus sign", post + "Content-Length: +1\r\n\r\nx", 400},
		{"CL minus sign", post + "Content-Length: -1\r\n\r\n", 400},
		{"CL inner space", post + "Content-Length: 1 1\r\n\r\n", 400},
		{"CL hex", post + "Content-Length: 0x1\r\n\r\nx", 400},
		{"CL empty", post + "Content-Length: \r\n\r\n", 400},
		{"CL too big", post + "Content-Length: 99999999999999999999\r\n\r\n", 400},
		// Line endings.
		{"bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
		{"bare LF after field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
		{"bare LF ending head", get + "\n", 400},
		{"bare CR in field", get + "X: a\rb\r\n\r\n", 400},
		{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"obs-fold", get + "X: a\r\n b\r\n\r\n", 400},
		{"folded first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
		{"NUL in value", get + "X: a\x00b\r\n\r\n", 400},
		{"DEL in value", get + "X: a\x7fb\r\n\r\n", 400},
		{"space before colon", get + "X : a\r\n\r\n", 400},
		{"no colon", get + "X\r\n\r\n", 400},
		{"empty name", get + ": a\r\n\r\n", 400},
		// Limits.
		{"head too large", get + "X: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", 431},
		{"request line too long", "GET /" + strings.Repeat("a", 10<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
		{"request line over the head limit", "GET /" + strings.Repeat("a", 20<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", 431},
		// Host.
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", get + "Host: b\r\n\r\n", 400},
		{"two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		// Request line.
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
		{"HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
		{"malformed version", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400},
		{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
		{"no version", "GET /\r\n\r\n", 400},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"non-ASCII target", "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405},
		{"empty request line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"unknown expectation", get + "Expect: teapot\r\n\r\n", 417},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, addr, tt.raw)
			status, rest, _ := strings.Cut(got, "\r\n")
			if want := "HTTP/1.1 " + http.StatusText(tt.code); !strings.HasPrefix(status, "HTTP/1.1 ") ||
				!strings.HasPrefix(status[9:], itoa(tt.code)) {
				t.Fatalf("answer %q, want %d (%s)", got, tt.code, want)
			}
			if !strings.Contains(rest, "Connection: close\r\n") {
				t.Errorf("answer without Connection: close: %q", got)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the handler saw %d refused requests", n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestAccepted: framings that look odd but mean one thing are served.
func TestAccepted(t *testing.T) {
	_, addr := serve(t, echo)
	tests := []struct{ name, raw, want string }{
		{"TE with OWS", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked \r\nConnection: close\r\n\r\n1\r\nx\r\n0\r\n\r\n", "POST / x"},
		{"TE upper case", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n1\r\nx\r\n0\r\n\r\n", "POST / x"},
		{"CL with OWS", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\t2 \r\nConnection: close\r\n\r\nxy", "POST / xy"},
		{"chunk extension and trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2;a=b\r\nxy\r\n0\r\nT: v\r\n\r\n", "POST / xy"},
		{"HTTP/1.0 without Host", "GET /p HTTP/1.0\r\n\r\n", "GET /p "},
		{"absolute form", "GET http://b/q?x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET http://b/q?x "},
		{"obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9\r\nConnection: close\r\n\r\n", "GET / "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, addr, tt.raw)
			if !strings.HasPrefix(got, "HTTP/1.") || !strings.HasSuffix(got, "\r\n\r\n"+tt.want) {
				t.Fatalf("answer %q, want body %q", got, tt.want)
			}
		})
	}
}

// TestBadChunks: a chunked body that breaks its framing fails the
// handler's read, and the connection is closed after the response.
func TestBadChunks(t *testing.T) {
	_, addr := serve(t, echo)
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	for name, chunks := range map[string]string{
		"no size":            "\r\nx\r\n0\r\n\r\n",
		"bad hex":            "g\r\nx\r\n0\r\n\r\n",
		"sign":               "+1\r\nx\r\n0\r\n\r\n",
		"too many digits":    "0000000000000001\r\nx\r\n0\r\n\r\n",
		"bare LF after size": "1\nx\r\n0\r\n\r\n",
		"bare LF after data": "1\r\nx\n0\r\n\r\n",
		"data longer":        "1\r\nxy\r\n0\r\n\r\n",
		"long extension":     "1;" + strings.Repeat("e", 5<<10) + "\r\nx\r\n0\r\n\r\n",
		"CTL in extension":   "1;a\x01\r\nx\r\n0\r\n\r\n",
		"folded trailer":     "1\r\nx\r\n0\r\n T: v\r\n\r\n",
		"huge trailer":       "1\r\nx\r\n0\r\nT: " + strings.Repeat("v", 10<<10) + "\r\n\r\n",
		"bare LF in trailer": "1\r\nx\r\n0\r\nT: v\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(head + chunks + "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			resp := c.response("POST")
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d (%s), want 400 from the handler", resp.StatusCode, bodyOf(t, resp))
			}
			if !resp.Close {
				t.Errorf("the response does not say Connection: close")
			}
			if rest := c.rest(); rest != "" {
				t.Errorf("the server went on after a broken body: %q", rest)
			}
		})
	}
}
