package h1

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShortBody: a body short of its Content-Length ends the connection,
// so the client cannot take it for whole.
func TestShortBody(t *testing.T) {
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "short")
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); err != io.ErrUnexpectedEOF {
		t.Fatalf("read %q, %v; want a cut body", b, err)
	}
}

// TestLongBody: writing past the declared length fails with
// http.ErrContentLength and sends nothing of it.
func TestLongBody(t *testing.T) {
	errs := make(chan error, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		io.WriteString(w, "abc")
		_, err := io.WriteString(w, "d")
		errs <- err
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := bodyOf(t, c.response("GET")); got != "abc" {
		t.Fatalf("body %q", got)
	}
	if err := <-errs; err != http.ErrContentLength {
		t.Fatalf("write past the length: %v", err)
	}
}

// TestInterim: a 1xx goes out with the header at the time, then the
// final response with its own.
func TestInterim(t *testing.T) {
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</s.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))
	got := exchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	want := "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
	if !strings.HasPrefix(got, want+want+"HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(got, "\r\n\r\nfinal") {
		t.Fatalf("answer %q", got)
	}
	if strings.Count(got, "Link:") != 2 {
		t.Errorf("Link in the final response: %q", got)
	}
}

// TestNoBody: HEAD, 204 and 304 carry no body (a HEAD's Content-Length
// is the GET's), and the connection goes on to the next request.
func TestNoBody(t *testing.T) {
	errs := make(chan error, 4)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			io.WriteString(w, "hello")
			errs <- nil
			return
		}
		_, err := io.WriteString(w, "body")
		errs <- err
	}))
	c := dial(t, addr)
	c.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	got := c.rest()
	for _, want := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
		"HTTP/1.1 204 No Content\r\n",
		"HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n",
	} {
		if !strings.HasPrefix(got, want[:17]) {
			t.Fatalf("next response %q, want %q", got, want)
		}
		end := strings.Index(got, "\r\n\r\n") + 4
		if head := got[:end]; strings.Contains(head, "Transfer-Encoding") || (want[9:12] != "200" && strings.Contains(head, "Content-Length")) {
			t.Errorf("framing in a bodyless response: %q", head)
		}
		got = got[end:]
	}
	if !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(got, "\r\n\r\nhello") {
		t.Fatalf("the response after them: %q", got)
	}
	<-errs
	for range 2 {
		if err := <-errs; err != http.ErrBodyNotAllowed {
			t.Errorf("a body for 204/304: %v", err)
		}
	}
}

// TestFraming: a body that ends before the buffer fills gets a computed
// Content-Length and a sniffed Content-Type; a flushed or long one is
// chunked; HTTP/1.0 gets it close-delimited; every response has a Date.
func TestFraming(t *testing.T) {
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			io.WriteString(w, "<html><body>hi</body></html>")
		case "/flushed":
			io.WriteString(w, "part1,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part2")
		case "/long":
			io.WriteString(w, strings.Repeat("x", 100<<10))
		case "/empty":
		}
	}))
	c := dial(t, addr)
	c.send("GET /small HTTP/1.1\r\nHost: a\r\n\r\n")
	resp := c.response("GET")
	if resp.ContentLength != 28 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || len(resp.TransferEncoding) > 0 {
		t.Errorf("small: length %d, type %q, TE %v", resp.ContentLength, resp.Header.Get("Content-Type"), resp.TransferEncoding)
	}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %q", resp.Header.Get("Date"))
	}
	for _, p := range []string{"/flushed", "/long"} {
		c.send("GET " + p + " HTTP/1.1\r\nHost: a\r\n\r\n")
		resp := c.response("GET")
		body := bodyOf(t, resp)
		if len(resp.TransferEncoding) != 1 || resp.ContentLength != -1 || (p == "/flushed" && body != "part1,part2") || (p == "/long" && len(body) != 100<<10) {
			t.Errorf("%s: TE %v, length %d, body of %d bytes", p, resp.TransferEncoding, resp.ContentLength, len(body))
		}
	}
	c.send("GET /empty HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp := c.response("GET"); resp.ContentLength != 0 || resp.Header.Get("Content-Type") != "" {
		t.Errorf("empty: length %d, type %q", resp.ContentLength, resp.Header.Get("Content-Type"))
	}
	got := exchange(t, addr, "GET /long HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	if head, body, _ := strings.Cut(got, "\r\n\r\n"); strings.Contains(head, "Content-Length") || strings.Contains(head, "chunked") || len(body) != 100<<10 {
		t.Errorf("HTTP/1.0 long body: head %q, %d bytes", head, len(body))
	}
}

// TestHeaderInjection: a handler cannot add header lines through a
// field name or value.
func TestHeaderInjection(t *testing.T) {
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Value"] = []string{"a\r\nSet-Cookie: evil=1", "ok"}
		h["X-Lf"] = []string{"a\nSet-Cookie: evil=2"}
		h["X-Name\r\nSet-Cookie: evil=3\r\nX"] = []string{"v"}
		h["Bad Name"] = []string{"v"}
		h["X-Nul"] = []string{"a\x00b"}
		io.WriteString(w, "body")
	}))
	got := exchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	head, _, _ := strings.Cut(got, "\r\n\r\n")
	if strings.Contains(head, "evil") || strings.Contains(head, "Bad Name") || strings.Contains(head, "X-Nul") || strings.Count(head, "\n") != strings.Count(head, "\r\n") {
		t.Fatalf("head %q", head)
	}
	if !strings.Contains(head, "\r\nX-Value: ok\r\n") {
		t.Errorf("the valid value went too: %q", head)
	}
}

// TestConnectionClose: Connection: close from the request or the
// handler ends the connection after the response.
func TestConnectionClose(t *testing.T) {
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/handler" {
			w.Header().Set("Connection", "close")
		}
	}))
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET /handler HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		got := exchange(t, addr, raw+"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if strings.Count(got, "HTTP/1.1 200") != 1 || strings.Count(got, "Connection: close") != 1 {
			t.Errorf("%q: answer %q", raw, got)
		}
	}
}

// TestWriteTimeout: a client that stops reading fails the handler's
// writes once WriteTimeout has passed.
func TestWriteTimeout(t *testing.T) {
	errs := make(chan error, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		deadline := time.Now().Add(bound)
		for time.Now().Before(deadline) {
			if _, err := w.Write(chunk); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}), func(s *Server) { s.WriteTimeout = 200 * time.Millisecond })
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if err := <-errs; !isTimeout(err) {
		t.Fatalf("write to a client that does not read: %v", err)
	}
}
