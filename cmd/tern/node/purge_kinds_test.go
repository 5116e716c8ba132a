package node

import (
	"strings"
	"testing"
	"time"
)

// TestPurgeFleetTag: a tag purge removes every object carrying the tag
// (Surrogate-Key) at every edge and shield, and nothing else.
func TestPurgeFleetTag(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleet(t, o.srv.URL)
	tagged := []string{"/app.js", "/lib.js"}
	before := map[string]map[string]string{}
	for _, p := range tagged {
		before[p] = f.warm(p)
	}
	f.warm("/style.css")
	css := o.count("/style.css")

	out := f.purge("--tag", "assets")
	for _, name := range append(append([]string{}, f.edges...), f.shields...) {
		if !regexpApplied(out, name) {
			t.Errorf("%s not applied:\n%s", name, out)
		}
	}
	for _, e := range f.edges {
		for _, p := range tagged {
			if body, status := f.get(e, p); body == before[p][e] || edgeHit(e, status) {
				t.Errorf("%s %s after the tag purge: %q %q, the purged %q", e, p, body, status, before[p][e])
			}
		}
		if _, status := f.get(e, "/style.css"); !edgeHit(e, status) {
			t.Errorf("%s /style.css (untagged) is %q after the tag purge, want a hit", e, status)
		}
	}
	if got := o.count("/style.css"); got != css {
		t.Errorf("origin requests for /style.css: %d, want %d", got, css)
	}
}

// TestPurgeFleetSoft: after a soft purge an edge still answers at once
// with the stale copy (stale-while-revalidate), revalidates in the
// background, and soon serves the origin's new version.
func TestPurgeFleetSoft(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleet(t, o.srv.URL)
	before := f.warm("/app.js")
	hits := o.count("/app.js")

	f.purge("--url", "/app.js", "--soft")
	body, status := f.get("edge-1", "/app.js")
	if body != before["edge-1"] || !strings.Contains(status, "stale") {
		t.Errorf("first request after a soft purge: %q %q, want the stale %q", body, status, before["edge-1"])
	}
	deadline := time.Now().Add(10 * time.Second)
	for o.count("/app.js") <= hits {
		if time.Now().After(deadline) {
			t.Fatalf("no revalidation reached the origin after the soft purge")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		body, _ := f.get("edge-1", "/app.js")
		if body != before["edge-1"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge-1 still serves %q 10s after a soft purge", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
