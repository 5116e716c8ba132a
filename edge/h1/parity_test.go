package h1

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestSameAnswersAsNetHTTP serves a set of handlers with net/http and
// with this server and compares what a client reads: status, header
// (but Date), framing and body.
func TestSameAnswersAsNetHTTP(t *testing.T) {
	handlers := map[string]http.HandlerFunc{
		"/error": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusForbidden) },
		"/redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		},
		"/sniff":   func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "%PDF-1.4 ...") },
		"/empty":   func(w http.ResponseWriter, r *http.Request) {},
		"/created": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) },
		"/declared": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Add("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
			io.WriteString(w, "hello")
		},
		"/big": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("b", 10<<10))
		},
		"/flushed": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: 1\n\n")
			w.(http.Flusher).Flush()
			io.WriteString(w, "data: 2\n\n")
		},
		"/304": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"e"`)
			w.WriteHeader(http.StatusNotModified)
		},
		"/204": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
		"/close": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		},
		"/date": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
		},
		"/teapot": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(799) },
		"/no-type": func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "<html>")
		},
		"/encoded": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "\x1f\x8b\x08")
		},
		"/late-header": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "x")
			w.Header().Set("X-Late", "1")
		},
		"/echo": func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "body", http.StatusBadRequest)
				return
			}
			w.Write(b)
		},
		"/2048": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, strings.Repeat("a", 2048)) },
		"/2049": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, strings.Repeat("a", 2049)) },
		"/two-writes": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("a", 1500))
			io.WriteString(w, strings.Repeat("b", 1000))
		},
	}
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := handlers[r.URL.Path]; ok {
			h(w, r)
		}
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ref := &http.Server{Handler: mux}
	go ref.Serve(ln)
	defer ref.Shutdown(context.Background())
	_, addr := serve(t, mux)

	for _, raw := range []string{
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
		"PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /empty HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST /declared HTTP/1.1\r\nHost: a\r\nContent-Length: 300000\r\n\r\n" + strings.Repeat("x", 300000),
		"POST /declared HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET http://other/echo HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		method, _, _ := strings.Cut(raw, " ")
		want := readAll(t, ln.Addr().String(), raw, method)
		got := readAll(t, addr, raw, method)
		if got != want {
			t.Errorf("%q:\n got %s\nwant %s", short(raw), got, want)
		}
	}
	for path := range handlers {
		for _, method := range []string{"GET", "HEAD"} {
			for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
				raw := method + " " + path + " " + proto + "\r\nHost: a\r\n\r\n"
				want := readAll(t, ln.Addr().String(), raw, method)
				got := readAll(t, addr, raw, method)
				if got != want {
					t.Errorf("%s %s %s:\n got %s\nwant %s", method, path, proto, got, want)
				}
			}
		}
	}
}

// readAll sends raw and describes the answer: status line, header but
// Date, framing and body.
func readAll(t *testing.T, addr, raw, method string) string {
	t.Helper()
	c := dial(t, addr)
	c.send(raw)
	resp := c.response(method)
	body := bodyOf(t, resp)
	resp.Header.Del("Date")
	var b strings.Builder
	b.WriteString(resp.Status + " " + resp.Proto + "\n")
	resp.Header.Write(&b)
	b.WriteString("length=" + itoa(int(resp.ContentLength)) + " te=" + strings.Join(resp.TransferEncoding, ",") +
		" close=" + map[bool]string{true: "yes", false: "no"}[resp.Close] + " body=" + short(body))
	return b.String()
}

func short(s string) string {
	if len(s) > 40 {
		return s[:20] + "...(" + itoa(len(s)) + " bytes)"
	}
	return s
}
