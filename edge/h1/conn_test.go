package h1

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPipelining writes three requests at once: the answers come in
// order, on one connection; also when the handler watches its context
// (whose background read then takes a byte of the next request).
func TestPipelining(t *testing.T) {
	for _, watch := range []bool{false, true} {
		_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if watch {
				select {
				case <-r.Context().Done():
					t.Errorf("request %s cancelled while served", r.URL.Path)
				default:
				}
			}
			io.WriteString(w, r.URL.Path)
		}))
		c := dial(t, addr)
		c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n")
		for _, want := range []string{"/1", "/2", "/3"} {
			if got := bodyOf(t, c.response("GET")); got != want {
				t.Fatalf("watch=%v: body %q, want %q", watch, got, want)
			}
		}
	}
}

// TestKeepAlive serves requests one after the other on one connection,
// each with a fresh request and header map.
func TestKeepAlive(t *testing.T) {
	var mu sync.Mutex
	var reqs []*http.Request
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, r)
		mu.Unlock()
		w.Header().Set("X-N", r.Header.Get("X-N"))
	}))
	c := dial(t, addr)
	for _, n := range []string{"1", "2", "3"} {
		c.send("GET / HTTP/1.1\r\nHost: a\r\nX-N: " + n + "\r\n\r\n")
		resp := c.response("GET")
		if resp.Header.Get("X-N") != n || resp.Close {
			t.Fatalf("response %d: %v (close %v)", len(reqs), resp.Header, resp.Close)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if reqs[0] == reqs[1] || reqs[1] == reqs[2] {
		t.Error("a request was reused")
	}
	for i, r := range reqs {
		if got := r.Header.Get("X-N"); got != string(rune('1'+i)) {
			t.Errorf("request %d kept X-N %q: its header was reused", i, got)
		}
	}
}

// TestRequestFields compares the request a handler gets with what
// net/http's http.ReadRequest makes of the same bytes.
func TestRequestFields(t *testing.T) {
	got := make(chan *http.Request, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		got <- r
	}))
	for _, raw := range []string{
		"GET /a%20b/c?q=1&r=%2F HTTP/1.1\r\nHost: Example.COM:80\r\naccept-encoding: gzip\r\nX-Two: 1\r\nx-two: 2\r\nPragma: no-cache\r\n\r\n",
		"POST http://other.test/p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
		"OPTIONS /o HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	} {
		c := dial(t, addr)
		c.send(raw)
		r := <-got
		want, err := http.ReadRequest(bufioReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if r.Method != want.Method || r.URL.String() != want.URL.String() || r.RequestURI != want.RequestURI ||
			r.Proto != want.Proto || r.ProtoMajor != want.ProtoMajor || r.ProtoMinor != want.ProtoMinor ||
			r.Host != want.Host || r.ContentLength != want.ContentLength || r.Close != want.Close || r.TLS != nil {
			t.Errorf("%q:\n got %s %s %s %s %d %v\nwant %s %s %s %s %d %v", raw,
				r.Method, r.URL, r.Proto, r.Host, r.ContentLength, r.Close,
				want.Method, want.URL, want.Proto, want.Host, want.ContentLength, want.Close)
		}
		if !equalHeader(r.Header, want.Header) {
			t.Errorf("%q: header %v, want %v", raw, r.Header, want.Header)
		}
		if r.RemoteAddr != c.LocalAddr().String() {
			t.Errorf("RemoteAddr %q, want %q", r.RemoteAddr, c.LocalAddr())
		}
		if la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr); la == nil || la.String() != c.RemoteAddr().String() {
			t.Errorf("LocalAddrContextKey %v, want %v", la, c.RemoteAddr())
		}
		b, _ := io.ReadAll(r.Body)
		wb, _ := io.ReadAll(want.Body)
		if !bytes.Equal(b, wb) {
			t.Errorf("body %q, want %q", b, wb)
		}
	}
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// TestHTTP10 answers HTTP/1.0 in kind: closing by default, kept alive
// when asked (with a length).
func TestHTTP10(t *testing.T) {
	_, addr := serve(t, echo)
	got := exchange(t, addr, "GET /x HTTP/1.0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(got, "\r\n\r\nGET /x ") {
		t.Errorf("HTTP/1.0 answer %q", got)
	}
	c := dial(t, addr)
	c.send("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp := c.response("GET")
	if resp.Header.Get("Connection") != "keep-alive" || bodyOf(t, resp) != "GET /1 " {
		t.Fatalf("keep-alive answer %v", resp.Header)
	}
	c.send("GET /2 HTTP/1.0\r\n\r\n")
	if got := bodyOf(t, c.response("GET")); got != "GET /2 " {
		t.Fatalf("second answer %q", got)
	}
	if rest := c.rest(); rest != "" {
		t.Errorf("after the last answer: %q", rest)
	}
}

// TestExpectContinue: 100 Continue goes out when the handler first reads
// the body, not before; a handler that never reads gets none sent, and
// the connection closes after its answer.
func TestExpectContinue(t *testing.T) {
	entered, read := make(chan struct{}), make(chan struct{})
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ignore" {
			io.WriteString(w, "ignored")
			return
		}
		entered <- struct{}{}
		<-read
		echo(w, r)
	}))
	c := dial(t, addr)
	c.send("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	<-entered
	// The handler runs and has not read: nothing may have been sent.
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if b, err := c.br.Peek(1); !isTimeout(err) {
		t.Fatalf("before the body is read the server sent %q (%v)", b, err)
	}
	c.SetReadDeadline(time.Now().Add(bound))
	close(read)
	line, err := c.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v; want 100 Continue", line, err)
	}
	if crlf, _ := c.br.ReadString('\n'); crlf != "\r\n" {
		t.Fatalf("after 100 Continue: %q", crlf)
	}
	c.send("hello")
	if got := bodyOf(t, c.response("PUT")); got != "PUT /x hello" {
		t.Fatalf("body %q", got)
	}

	c = dial(t, addr)
	c.send("PUT /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	resp := c.response("PUT")
	if got := bodyOf(t, resp); got != "ignored" || !resp.Close {
		t.Fatalf("answer %q, close %v", got, resp.Close)
	}
	if rest := c.rest(); rest != "" {
		t.Errorf("after the answer: %q", rest)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestStreamingRequestBody: the handler reads a body while the client is
// still sending it.
func TestStreamingRequestBody(t *testing.T) {
	first := make(chan string)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		n, _ := io.ReadFull(r.Body, buf)
		first <- string(buf[:n])
		rest, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the rest: %v", err)
		}
		io.WriteString(w, string(rest))
	}))
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	if got := <-first; got != "hello" {
		t.Fatalf("first part %q", got)
	}
	c.send("6\r\n world\r\n0\r\n\r\n")
	if got := bodyOf(t, c.response("POST")); got != " world" {
		t.Fatalf("rest %q", got)
	}
}

// TestUnreadBody: a small unread body is read past, and the connection
// serves on; a large one closes it.
func TestUnreadBody(t *testing.T) {
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\n\r\n" + strings.Repeat("x", 1024))
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp := c.response("POST"); resp.Close {
		t.Fatal("closed after a small unread body")
	}
	if resp := c.response("GET"); resp.StatusCode != 200 {
		t.Fatalf("next request: %d", resp.StatusCode)
	}

	c = dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n")
	go func() {
		// The server reads some of it, then closes: writes fail then.
		chunk := strings.Repeat("x", 64<<10)
		for i := 0; i < 10000000/len(chunk); i++ {
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
		}
	}()
	if resp := c.response("POST"); !resp.Close {
		t.Error("the answer to a large unread body does not say Connection: close")
	}
	// Then the server closes (a reset, as the client is still sending).
	if b, err := io.ReadAll(c.br); err == nil && len(b) > 0 {
		t.Fatalf("after a large unread body: %q", b)
	}
}

// TestSlowloris: a client dribbling a head is cut off at
// ReadHeaderTimeout.
func TestSlowloris(t *testing.T) {
	_, addr := serve(t, echo, func(s *Server) { s.ReadHeaderTimeout = 200 * time.Millisecond })
	c := dial(t, addr)
	start := time.Now()
	c.send("GET / HTTP/1.1\r\n")
	var err error
	for err == nil && time.Since(start) < bound/2 {
		_, err = io.WriteString(c, "X: y\r\n")
		if err == nil {
			var one [1]byte
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, rerr := c.Read(one[:]); rerr != nil && !isTimeout(rerr) {
				err = rerr
			}
		}
	}
	if err == nil {
		t.Fatal("the server still reads a head dribbled for 5 s")
	}
}

// TestIdleTimeout closes a kept-alive connection that sends nothing more.
func TestIdleTimeout(t *testing.T) {
	_, addr := serve(t, echo, func(s *Server) { s.IdleTimeout = 200 * time.Millisecond })
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.response("GET")
	start := time.Now()
	if rest := c.rest(); rest != "" {
		t.Fatalf("idle connection got %q", rest)
	}
	if d := time.Since(start); d > bound/2 {
		t.Fatalf("closed after %v", d)
	}
}

// TestClientGoneCancels: a handler waiting on its context returns when
// the client closes the connection; a context kept after ServeHTTP is
// cancelled when it returns.
func TestClientGoneCancels(t *testing.T) {
	entered, cancelled := make(chan struct{}), make(chan error, 1)
	kept := make(chan context.Context, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keep" {
			kept <- r.Context()
			return
		}
		close(entered)
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(bound):
			cancelled <- errors.New("not cancelled")
		}
	}))
	c := dial(t, addr)
	c.send("GET /wait HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	c.Close()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("context: %v", err)
	}

	c = dial(t, addr)
	c.send("GET /keep HTTP/1.1\r\nHost: a\r\n\r\n")
	c.response("GET")
	select {
	case <-(<-kept).Done():
	case <-time.After(bound):
		t.Fatal("a context kept after ServeHTTP returned is not cancelled")
	}
}

// TestClientGoneWhileBodyRead: the watch starts once the body is read.
func TestClientGoneWhileBodyRead(t *testing.T) {
	done := make(chan error, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch := r.Context().Done() // asked before the body is read
		io.ReadAll(r.Body)
		select {
		case <-ch:
			done <- nil
		case <-time.After(bound):
			done <- errors.New("not cancelled")
		}
	}))
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
	c.Conn.(*net.TCPConn).CloseWrite()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestShutdown waits for a request in flight, closes an idle connection
// at once, and answers the last request with Connection: close.
func TestShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	})}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()

	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	idle.response("GET")
	busy := dial(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	if rest := idle.rest(); rest != "" {
		t.Fatalf("idle connection got %q", rest)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	resp := busy.response("GET")
	if bodyOf(t, resp) != "done" || !resp.Close {
		t.Fatalf("in-flight answer close=%v", resp.Close)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, bound); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// TestPanic closes the connection without an answer, logs the panic (not
// http.ErrAbortHandler) and serves on.
func TestPanic(t *testing.T) {
	var logs syncBuffer
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(200)
			io.WriteString(w, "half")
			panic("boom")
		case "/abort":
			panic(http.ErrAbortHandler)
		}
	}), func(s *Server) { s.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	for _, path := range []string{"/panic", "/abort"} {
		c := dial(t, addr)
		c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
		if _, err := http.ReadResponse(c.br, nil); err == nil {
			// The head may have gone out; the body must then be cut.
			if b, err := io.ReadAll(c.br); err == nil && len(b) >= 10 {
				t.Errorf("%s: a whole body after a panic: %q", path, b)
			}
		}
	}
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp := c.response("GET"); resp.StatusCode != 200 {
		t.Fatalf("after panics: %d", resp.StatusCode)
	}
	if got := logs.String(); !strings.Contains(got, "boom") || strings.Contains(got, "abort Handler") {
		t.Errorf("log: %q", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSendfile: io.Copy from a file to the response works through
// ReadFrom, with a declared length and without.
func TestSendfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	content := strings.Repeat("0123456789", 10000)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		var src io.Reader = f
		switch r.URL.Path {
		case "/cl":
			w.Header().Set("Content-Length", "100000")
			w.Header().Set("Content-Type", "text/plain")
		case "/limited":
			w.Header().Set("Content-Length", "100000")
			w.Header().Set("Content-Type", "text/plain")
			src = io.LimitReader(f, 100000)
		case "/over":
			w.Header().Set("Content-Length", "99999")
			w.Header().Set("Content-Type", "text/plain")
			if _, err := io.Copy(w, f); err != http.ErrContentLength {
				t.Errorf("copy past the length: %v", err)
			}
			return
		}
		if _, err := io.Copy(w, src); err != nil {
			t.Errorf("copy: %v", err)
		}
	}))
	c := dial(t, addr)
	c.send("GET /over HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := bodyOf(t, c.response("GET")); got != content[:99999] {
		t.Fatalf("/over: body of %d bytes", len(got))
	}
	for _, p := range []string{"/cl", "/limited", "/chunked"} {
		c.send("GET " + p + " HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := bodyOf(t, c.response("GET")); got != content {
			t.Fatalf("%s: body of %d bytes, want %d", p, len(got), len(content))
		}
	}
}

// TestShutdownDeadline: a request still running when Shutdown's context
// ends has its connection closed (its handler, watching its context,
// then returns) and Shutdown reports the context's error.
func TestShutdownDeadline(t *testing.T) {
	entered, returned := make(chan struct{}), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		done := r.Context().Done()
		close(entered)
		<-done
	})}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c := dial(t, ln.Addr().String())
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	<-returned
	if rest := c.rest(); rest != "" {
		t.Errorf("after a forced close: %q", rest)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}
