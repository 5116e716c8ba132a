package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// FuzzParseRequest reads arbitrary bytes as a request with the server's
// parser and with net/http's http.ReadRequest. It must never panic, and
// where both accept the request they must agree on the method, target,
// host, header and body.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a?b HTTP/1.0\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://h/x HTTP/1.1\r\nHost: a\r\nx-lower: 1\r\nX-LOWER: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		head, err := readHead(br, nil, 8<<10)
		if err != nil {
			return
		}
		r := new(http.Request)
		fr, err := parseHead(r, head)
		if err != nil {
			return
		}
		var body []byte
		var bodyErr error
		if fr.chunked || fr.length > 0 {
			body, bodyErr = io.ReadAll(newBody(br, fr))
		}

		want, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if r.Method != want.Method || r.RequestURI != want.RequestURI || r.URL.String() != want.URL.String() ||
			r.Host != want.Host || r.ProtoMinor != want.ProtoMinor || r.Close != want.Close ||
			len(r.TransferEncoding) != len(want.TransferEncoding) {
			t.Fatalf("%q:\n got %q %q %q %q 1.%d close=%v\nwant %q %q %q %q 1.%d close=%v", data,
				r.Method, r.RequestURI, r.URL, r.Host, r.ProtoMinor, r.Close,
				want.Method, want.RequestURI, want.URL, want.Host, want.ProtoMinor, want.Close)
		}
		if !equalHeader(r.Header, want.Header) {
			t.Fatalf("%q: header\n got %q\nwant %q", data, r.Header, want.Header)
		}
		wantBody, wantErr := io.ReadAll(want.Body)
		if bodyErr == nil && wantErr == nil && !bytes.Equal(body, wantBody) {
			t.Fatalf("%q: body %q, want %q", data, body, wantBody)
		}
		if bodyErr == nil && wantErr == nil && r.ContentLength != want.ContentLength {
			t.Fatalf("%q: length %d, want %d", data, r.ContentLength, want.ContentLength)
		}
	})
}
