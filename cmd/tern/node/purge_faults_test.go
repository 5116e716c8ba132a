package node

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/client"
)

// TestPurgeAPIBusUnreachable: a purge node whose external NATS servers
// cannot be reached answers 503, never 202, for a purge it could not store.
func TestPurgeAPIBusUnreachable(t *testing.T) {
	// Something that accepts connections and closes them: not NATS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "purge-tokens"), []byte(purgeToken+" test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	top, err := configs.Parse("t.yaml", []byte(fmt.Sprintf(`sites:
  - {name: test, hosts: [www.cdn.test], origin: "http://127.0.0.1:1"}
purge:
  name: purge-1
  listen: "127.0.0.1:0"
  tokens_file: purge-tokens
  bus: {mode: external, urls: ["nats://%s"]}
datacenters:
  - name: dc
    lat: 0
    lon: 0
    edges:
      - {name: edge-1, listen: "127.0.0.1:0", admin: "127.0.0.1:0"}
`, ln.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := top.Lookup("purge-1")
	n, err := New(top, ref, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- n.Run(ctx) }()
	defer func() { cancel(); <-errc }()

	c := &client.Client{API: "http://" + n.Listen, Token: purgeToken}
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	_, err = c.Purge(pctx, purge.Purge{Site: "test", Files: []string{"/app.js"}}, "")
	var apiErr *client.APIError
	if !asAPIError(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable {
		t.Errorf("purge with the bus unreachable: %v, want a 503", err)
	}
}

func asAPIError(err error, target **client.APIError) bool {
	e, ok := err.(*client.APIError)
	if ok {
		*target = e
	}
	return ok
}

// TestPurgeNodeRestartAppliesMissed: an edge stopped during a stream of
// purges, restarted on its data directory (its disk tier still holding
// what it cached), applies every purge it missed before it reports ready:
// none of the purged objects is served from its cache, and the API lists
// it applied. (The node is stopped in process, not killed with SIGKILL:
// the applier commits on a stop; a crash would redeliver from the last
// commit, which in-order application makes harmless.)
func TestPurgeNodeRestartAppliesMissed(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleet(t, o.srv.URL)
	const n = 10
	before := map[string]string{}
	for i := range n {
		p := fmt.Sprintf("/f%d.js", i)
		before[p] = f.warm(p)["edge-1"]
	}
	f.stop("edge-1")
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte(purgeToken), 0o600)
	var last string
	for i := range n {
		var out, errb bytes.Buffer
		args := []string{"--api", f.api, "--token-file", tok, "--site", "test", "--url", fmt.Sprintf("/f%d.js", i)}
		if err := client.Command(args, &out, &errb); err != nil {
			t.Fatalf("purge %d: %v %s", i, err, errb.String())
		}
		last = strings.Fields(out.String())[1]
	}
	ref, _ := f.top.Lookup("edge-1")
	ref.Node.Listen, _ = configs.ParseAddr("127.0.0.1:0")
	ref.Node.Admin, _ = configs.ParseAddr("127.0.0.1:0")
	f.start("edge-1")
	f.waitReady("edge-1")
	for i := range n {
		p := fmt.Sprintf("/f%d.js", i)
		if body, status := f.get("edge-1", p); body == before[p] || edgeHit("edge-1", status) {
			t.Errorf("%s after the restart: %q %q, the purged %q", p, body, status, before[p])
		}
	}
	c := &client.Client{API: f.api, Token: purgeToken}
	st, err := c.Status(context.Background(), last)
	if err != nil || stateOf(st, "edge-1") != "applied" {
		t.Errorf("status of the last purge %s: %+v %v, want edge-1 applied", last, st, err)
	}
}
