package origin

import (
	"net/http"
	"net/http/httptest"
	"net/url"
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

// TestSplitKeepsTierFieldsFromOrigins: the purge sequence an edge sends
// its shields travels to the shields' hosts only, never to an origin the
// edge falls back to.
func TestSplitKeepsTierFieldsFromOrigins(t *testing.T) {
	seen := map[string]string{}
	record := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen[name] = r.Header.Get(PurgeSeqHeader)
		})
	}
	shield := httptest.NewServer(record("shield"))
	defer shield.Close()
	org := httptest.NewServer(record("origin"))
	defer org.Close()
	su, _ := url.Parse(shield.URL)
	split := NewSplit([]string{su.Host}, http.DefaultTransport, http.DefaultTransport)
	for _, target := range []string{shield.URL, org.URL} {
		req, _ := http.NewRequest("GET", target+"/x", nil)
		req.Header.Set(PurgeSeqHeader, "7")
		resp, err := split.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if req.Header.Get(PurgeSeqHeader) != "7" {
			t.Fatal("the caller's request was changed")
		}
	}
	if seen["shield"] != "7" || seen["origin"] != "" {
		t.Errorf("purge sequence seen by the shield %q, by the origin %q; want 7 and none", seen["shield"], seen["origin"])
	}
}
