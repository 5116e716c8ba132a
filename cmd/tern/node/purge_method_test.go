package node

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tern-cdn/tern/purge/api"
	"github.com/tern-cdn/tern/purge/client"
)

// purgeMethod sends PURGE path to an edge with token ("" for none) and
// returns the status and the decoded JSON body.
func (f *purgeFleet) purgeMethod(edge, path, token string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest("PURGE", "http://"+f.nodes[edge].Listen+path, nil)
	req.Host = "www.cdn.test"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		f.t.Fatalf("PURGE %s at %s: %d, body not JSON: %v", path, edge, resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

// TestPurgeMethodOnEdge: PURGE of one URL on an edge follows the API's
// token rules (401 without a token, 403 with another site's, nothing
// purged) and, with the site's token, answers 202 with a purge id whose
// status completes, after which every edge misses on that URL.
func TestPurgeMethodOnEdge(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleet(t, o.srv.URL)
	before := f.warm("/app.js")

	if code, body := f.purgeMethod("edge-1", "/app.js", ""); code != http.StatusUnauthorized || body["error"] == nil {
		t.Errorf("PURGE without a token: %d %v, want 401 with an error", code, body)
	}
	if code, body := f.purgeMethod("edge-1", "/app.js", otherToken); code != http.StatusForbidden || body["error"] == nil {
		t.Errorf("PURGE with another site's token: %d %v, want 403 with an error", code, body)
	}
	for _, e := range f.edges {
		if body, status := f.get(e, "/app.js"); body != before[e] || !edgeHit(e, status) {
			t.Errorf("%s after refused PURGEs: %q %q, want the cached %q", e, body, status, before[e])
		}
	}

	code, body := f.purgeMethod("edge-2", "/app.js", purgeToken)
	id, _ := body["id"].(string)
	if code != http.StatusAccepted || id == "" {
		t.Fatalf("PURGE with the site's token: %d %v, want 202 with an id", code, body)
	}
	c := &client.Client{API: f.api, Token: purgeToken}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := c.Wait(ctx, id, 20*time.Millisecond, func(api.Status) {})
	if err != nil || !st.Complete || len(st.Nodes) != 4 {
		t.Fatalf("status of %s: %+v, %v; want complete on 4 nodes", id, st, err)
	}
	for _, e := range f.edges {
		if body, status := f.get(e, "/app.js"); body == before[e] || edgeHit(e, status) {
			t.Errorf("%s after PURGE: %q %q, the purged copy %q", e, body, status, before[e])
		}
	}
}
