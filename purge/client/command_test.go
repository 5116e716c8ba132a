package client_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/api"
	"github.com/tern-cdn/tern/purge/client"
	"github.com/tern-cdn/tern/purge/natsbus"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

type recorder struct {
	mu  sync.Mutex
	got []purge.Purge
}

func (r *recorder) Invalidate(_ context.Context, p purge.Purge) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, p)
	return nil
}

func (r *recorder) InvalidateAll(context.Context, time.Time) error { return nil }

// TestCommandWaitPrintsEveryNode: `tern purge --wait` returns once both
// nodes applied the purge and prints each as applied.
func TestCommandWaitPrintsEveryNode(t *testing.T) {
	dir := t.TempDir()
	s, err := natsbus.StartServer(natsbus.ServerConfig{Name: "n1", Dir: filepath.Join(dir, "nats"), Host: "127.0.0.1", Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	b, err := natsbus.Connect(natsbus.Config{URLs: []string{s.ClientURL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var tokens api.Tokens
	tokens.Add("secret", "www")
	h, err := api.New(api.Config{Bus: b, Tokens: tokens, Nodes: []string{"edge-1", "shield-1"},
		Sites: []api.Site{{Name: "www", Hosts: []string{"www.cdn.test"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	recs := map[string]*recorder{}
	for _, node := range []string{"edge-1", "shield-1"} {
		recs[node] = &recorder{}
		a, err := purge.NewApplier(purge.ApplierConfig{Node: node, Bus: b, Cache: recs[node]})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer a.Stop()
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = client.Command([]string{"--api", ts.URL, "--token-file", tokenFile, "--site", "www", "--url", "/app.js", "--tag", "t1", "--soft", "--wait", "--timeout", "10s"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\nstdout %s\nstderr %s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"edge-1", "shield-1", "complete"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "applied") != 2 || !strings.Contains(stderr.String(), "nodes applied") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, stderr.String())
	}
	for node, r := range recs {
		r.mu.Lock()
		if len(r.got) != 1 || r.got[0].Files[0] != "/app.js" || r.got[0].Tags[0] != "t1" || !r.got[0].Soft {
			t.Errorf("%s applied %+v", node, r.got)
		}
		r.mu.Unlock()
	}

	// A wrong token is an error naming the API's answer.
	if err := os.WriteFile(tokenFile, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = client.Command([]string{"--api", ts.URL, "--token-file", tokenFile, "--site", "www", "--all"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v", err)
	}
}
