package origin

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// With H2C the transport speaks HTTP/2 with prior knowledge to a plain
// http:// upstream serving unencrypted HTTP/2 only.
func TestTransportH2C(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)

	tr := testTransport(t, TransportConfig{H2C: true})
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Header.Get("X-Proto") != "HTTP/2.0" {
		t.Errorf("response %s, server saw %q, want HTTP/2", resp.Proto, resp.Header.Get("X-Proto"))
	}

	// The default transport speaks HTTP/1.1, which that server refuses.
	plain := testTransport(t, TransportConfig{})
	if resp, err := plain.RoundTrip(req); err == nil {
		resp.Body.Close()
		if resp.ProtoMajor != 1 {
			t.Errorf("default transport used %s", resp.Proto)
		}
	}
}
