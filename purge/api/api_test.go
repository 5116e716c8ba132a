package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/api"
	"github.com/tern-cdn/tern/purge/natsbus"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

const (
	wwwToken   = "tok-www"
	otherToken = "tok-other"
)

type fixture struct {
	srv *natsbus.Server
	bus *natsbus.Bus
	url string
}

// newFixture runs an embedded NATS server, a bus and the API on loopback.
func newFixture(t *testing.T, tune func(*api.Config)) *fixture {
	t.Helper()
	dir, err := os.MkdirTemp("", "purgeapi-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := natsbus.StartServer(natsbus.ServerConfig{Name: "n1", Dir: dir, Host: "127.0.0.1", Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	b, err := natsbus.Connect(natsbus.Config{URLs: []string{s.ClientURL()}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	var tokens api.Tokens
	tokens.Add(wwwToken, "www")
	tokens.Add(otherToken, "other")
	cfg := api.Config{
		Bus:    b,
		Sites:  []api.Site{{Name: "www", Hosts: []string{"www.cdn.test"}}, {Name: "other", Hosts: []string{"other.test"}}},
		Tokens: tokens,
		Limits: purge.Limits{MaxEntries: 5},
		Nodes:  []string{"edge-1"},
		Rate:   1000, Burst: 1000,
		PublishTimeout: 2 * time.Second,
	}
	if tune != nil {
		tune(&cfg)
	}
	h, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &fixture{srv: s, bus: b, url: ts.URL}
}

// call sends a request and returns the status and the decoded JSON body.
func call(t *testing.T, method, url, token, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %q", method, url, ct, data)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, url, data, err)
	}
	return resp.StatusCode, v
}

// streamLast is the stream's last sequence: how many purges were stored.
func streamLast(t *testing.T, b purge.Bus) uint64 {
	t.Helper()
	pos, err := b.Position(context.Background(), "probe")
	if err != nil {
		t.Fatal(err)
	}
	return pos.Last
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

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func TestPurgeAcceptedAppliedComplete(t *testing.T) {
	f := newFixture(t, nil)
	code, body := call(t, "POST", f.url+"/v1/purge", wwwToken, `{"site":"www","files":["/app.js","https://www.cdn.test/a.css"],"soft":true}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST = %d %v", code, body)
	}
	id, _ := body["id"].(string)
	code, st := call(t, "GET", f.url+"/v1/purge/"+id, wwwToken, "")
	if code != 200 || st["complete"] != false || st["nodes"].([]any)[0].(map[string]any)["state"] != "pending" {
		t.Fatalf("status before any node applied: %d %v", code, st)
	}
	rec := &recorder{}
	a, err := purge.NewApplier(purge.ApplierConfig{Node: "edge-1", Bus: f.bus, Cache: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, st = call(t, "GET", f.url+"/v1/purge/"+id, wwwToken, "")
		if st["complete"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never complete: %v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rec.len() != 1 || !rec.got[0].Soft || rec.got[0].Files[1] != "https://www.cdn.test/a.css" {
		t.Fatalf("applied %+v", rec.got)
	}
	if code, _ := call(t, "GET", f.url+"/v1/purge/"+id, otherToken, ""); code != http.StatusForbidden {
		t.Fatalf("another site's token reads status: %d", code)
	}
	if code, _ := call(t, "GET", f.url+"/v1/purge/1-deadbeef", wwwToken, ""); code != http.StatusNotFound {
		t.Fatalf("guessed id: %d", code)
	}
}

func TestPurgeRejectedStoresNothing(t *testing.T) {
	f := newFixture(t, func(c *api.Config) { c.MaxBody = 1024 })
	for _, tc := range []struct {
		name, token, body string
		want              int
	}{
		{"no token", "", `{"site":"www","purge_everything":true}`, 401},
		{"bad token", "nope", `{"site":"www","purge_everything":true}`, 401},
		{"other site's token", otherToken, `{"site":"www","purge_everything":true}`, 403},
		{"malformed JSON", wwwToken, `{"site":"www","files":[`, 400},
		{"unknown field", wwwToken, `{"site":"www","urls":["/a"]}`, 400},
		{"unknown site", "", `{"site":"nosuch","purge_everything":true}`, 403},
		{"another site's host", wwwToken, `{"site":"www","files":["https://other.test/a"]}`, 400},
		{"another site's host prefix", wwwToken, `{"site":"www","prefixes":["other.test/a"]}`, 400},
		{"hosts of another site", wwwToken, `{"site":"www","hosts":["other.test"]}`, 400},
		{"empty selectors", wwwToken, `{"site":"www","files":[]}`, 400},
		{"empty entry", wwwToken, `{"site":"www","tags":[""]}`, 400},
		{"too many entries", wwwToken, `{"site":"www","files":["/1","/2","/3","/4","/5","/6"]}`, 413},
		{"oversize body", wwwToken, `{"site":"www","tags":["` + strings.Repeat("x", 2000) + `"]}`, 413},
	} {
		token := tc.token
		if tc.name == "unknown site" {
			token = wwwToken
		}
		code, body := call(t, "POST", f.url+"/v1/purge", token, tc.body)
		if code != tc.want || body["error"] == "" {
			t.Errorf("%s: %d %v, want %d with an error message", tc.name, code, body, tc.want)
		}
	}
	if n := streamLast(t, f.bus); n != 0 {
		t.Fatalf("rejected calls stored %d purges", n)
	}
}

func TestPurgeRateLimited(t *testing.T) {
	f := newFixture(t, func(c *api.Config) { c.Rate, c.Burst = 0.001, 2 })
	body := `{"site":"www","tags":["t"]}`
	for i := range 2 {
		if code, b := call(t, "POST", f.url+"/v1/purge", wwwToken, body); code != 202 {
			t.Fatalf("call %d: %d %v", i, code, b)
		}
	}
	if code, b := call(t, "POST", f.url+"/v1/purge", wwwToken, body); code != 429 || b["error"] == "" {
		t.Fatalf("third call: %d %v", code, b)
	}
	// The budget is the token's: another token still purges.
	if code, b := call(t, "POST", f.url+"/v1/purge", otherToken, `{"site":"other","tags":["t"]}`); code != 202 {
		t.Fatalf("other token: %d %v", code, b)
	}
	if n := streamLast(t, f.bus); n != 3 {
		t.Fatalf("stored %d purges, want 3", n)
	}
}

func TestPurgeIdempotencyKey(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"site":"www","prefixes":["/img/"]}`
	code, one := call(t, "POST", f.url+"/v1/purge", wwwToken, body, "Idempotency-Key", "k1")
	if code != 202 {
		t.Fatalf("first: %d %v", code, one)
	}
	code, two := call(t, "POST", f.url+"/v1/purge", wwwToken, body, "Idempotency-Key", "k1")
	if code != 202 || two["id"] != one["id"] || two["duplicate"] != true {
		t.Fatalf("retry: %d %v, first %v", code, two, one)
	}
	code, three := call(t, "POST", f.url+"/v1/purge", wwwToken, body, "Idempotency-Key", "k2")
	if code != 202 || three["id"] == one["id"] {
		t.Fatalf("another key: %d %v", code, three)
	}
	if n := streamLast(t, f.bus); n != 2 {
		t.Fatalf("stored %d purges, want 2", n)
	}
}

func TestPurgeNATSDown503(t *testing.T) {
	f := newFixture(t, nil)
	if code, b := call(t, "POST", f.url+"/v1/purge", wwwToken, `{"site":"www","purge_everything":true}`); code != 202 {
		t.Fatalf("while up: %d %v", code, b)
	}
	f.srv.Shutdown()
	start := time.Now()
	code, b := call(t, "POST", f.url+"/v1/purge", wwwToken, `{"site":"www","purge_everything":true}`)
	if code != http.StatusServiceUnavailable || b["error"] == "" || time.Since(start) > 4*time.Second {
		t.Fatalf("NATS down: %d %v after %v", code, b, time.Since(start))
	}
}
