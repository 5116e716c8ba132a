package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tern-cdn/tern/configs"
)

// TestSendSurrogateKeysFromTopology: a site's cache.send_surrogate_keys
// reaches the edge it configures; without it the client never sees the
// origin's Surrogate-Key and Cache-Tag.
func TestSendSurrogateKeysFromTopology(t *testing.T) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "a b")
		w.Header().Set("Cache-Tag", "c")
		io.WriteString(w, "body")
	}))
	defer o.Close()
	for _, send := range []bool{false, true} {
		t.Run(fmt.Sprint("send=", send), func(t *testing.T) {
			yaml := fmt.Sprintf(`sites:
  - name: test
    hosts: [www.cdn.test]
    origin: %s
    cache: {send_surrogate_keys: %v}
datacenters:
  - name: dc
    lat: 0
    lon: 0
    edges:
      - {name: edge-1, listen: "127.0.0.1:0", admin: "127.0.0.1:0"}
`, o.URL, send)
			top, err := configs.Parse("t.yaml", []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			var ref configs.NodeRef
			for _, r := range top.Nodes() {
				if r.Name == "edge-1" {
					ref = r
				}
			}
			n, err := New(top, ref, Options{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- n.Run(ctx) }()
			defer func() { cancel(); <-done }()
			req, _ := http.NewRequest("GET", "http://"+n.Listen+"/x", nil)
			req.Host = "www.cdn.test"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			sk, ct := resp.Header.Get("Surrogate-Key"), resp.Header.Get("Cache-Tag")
			if send && (sk != "a b" || ct != "c") || !send && (sk != "" || ct != "") {
				t.Errorf("%d: Surrogate-Key %q, Cache-Tag %q with send_surrogate_keys %v", resp.StatusCode, sk, ct, send)
			}
		})
	}
}

// TestPurgeTokensMissingInDataDir: a node of a topology whose tokens file
// lives in the data directory starts without it (tern run of one demo node
// on a fresh directory), refusing every call; a missing absolute path is
// an error.
func TestPurgeTokensMissingInDataDir(t *testing.T) {
	dir := t.TempDir()
	tokens, err := purgeTokens(configs.Purge{TokensFile: "purge-tokens"}, dir)
	if err != nil || tokens.Len() != 0 {
		t.Errorf("relative, missing: %d tokens, %v; want none and no error", tokens.Len(), err)
	}
	if _, err := purgeTokens(configs.Purge{TokensFile: dir + "/absent"}, dir); err == nil {
		t.Error("absolute, missing: no error")
	}
}
