package static

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixedTime is the mtime of every fixture file.
var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// writeTree writes files (slash-separated name -> content) under dir, all
// with mtime fixedTime.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, fixedTime, fixedTime); err != nil {
			t.Fatal(err)
		}
	}
}

// testOrigin is a Server behind a real loopback listener.
type testOrigin struct {
	*httptest.Server
	s    *Server
	reg  *prometheus.Registry
	done chan struct{} // one value per request the Server has finished
}

// startOrigin starts a Server for cfg on 127.0.0.1:0 with a fresh registry.
func startOrigin(t *testing.T, cfg Config, log *slog.Logger) *testOrigin {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(cfg, reg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	o := &testOrigin{s: s, reg: reg, done: make(chan struct{}, 1024)}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r)
		select {
		case o.done <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(o.Close)
	return o
}

// wait blocks until the Server has finished n more requests, so that their
// metrics and logs are recorded (the client may see a response before that).
func (o *testOrigin) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-o.done:
		case <-timeout:
			t.Fatalf("timed out waiting for %d requests to finish", n)
		}
	}
}

// do sends a request with the given headers (name, value pairs) and returns
// the response with its body read.
func (o *testOrigin) do(t *testing.T, method, target string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, o.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := o.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, target, err)
	}
	return res, body
}

// raw sends "METHOD target HTTP/1.1" exactly as given, bypassing the URL
// cleaning of net/http's client, and returns the response, its body and any
// bytes the server sent after the response.
func (o *testOrigin) raw(t *testing.T, method, target string) (*http.Response, []byte, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", o.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, method+" "+target+" HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	rest, _ := io.ReadAll(br)
	return res, body, rest
}
