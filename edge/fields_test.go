package edge_test

import (
	"net/http"
	"testing"

	"github.com/tern-cdn/tern/edge"
)

// strictFieldCases are responses whose freshness depends on parsing Age,
// Expires and CDN-Cache-Control strictly (RFC 9110 §5.6.7, RFC 9111 §5.1,
// §5.3, RFC 9213 §2.1). originHits is how many origin requests two GETs
// cost: 1 when the first response is stored fresh, 2 otherwise.
var strictFieldCases = []struct {
	name       string
	header     []string
	originHits int64
}{
	// The harness's clock and Date are Thu, 26 Nov 2026 12:00:00 GMT.
	{"Age list: the first value counts", []string{"Cache-Control", "max-age=3600", "Age", "7200, 0"}, 2},
	{"Age list within freshness", []string{"Cache-Control", "max-age=3600", "Age", "60, 7200"}, 1},
	{"Expires valid", []string{"Expires", "Thu, 26 Nov 2026 13:00:00 GMT"}, 1},
	{"Expires zone in any case", []string{"Expires", "Thu, 26 Nov 2026 13:00:00 gMT"}, 1},
	{"Expires with a run of spaces is expired", []string{"Expires", "Thu, 26 Nov 2026  13:00:00 GMT"}, 2},
	{"Expires with a one-digit hour is expired", []string{"Expires", "Fri, 27 Nov 2026 3:00:00 GMT"}, 2},
	{"several Expires lines are expired", []string{"Expires", "Thu, 26 Nov 2026 13:00:00 GMT", "Expires", "Thu, 26 Nov 2026 13:00:00 GMT"}, 2},
	{"CDN-Cache-Control valid", []string{"CDN-Cache-Control", "max-age=60", "Cache-Control", "no-store"}, 1},
	{"CDN-Cache-Control string max-age is ignored", []string{"CDN-Cache-Control", `max-age="10000"`, "Cache-Control", "no-store"}, 2},
	{"CDN-Cache-Control syntax error is ignored", []string{"CDN-Cache-Control", "&&&&&", "Cache-Control", "max-age=60"}, 1},
	{"CDN-Cache-Control negative max-age is ignored", []string{"CDN-Cache-Control", "max-age=-1", "Cache-Control", "max-age=60"}, 1},
}

// TestStrictFieldsOneTier: edge → origin.
func TestStrictFieldsOneTier(t *testing.T) {
	for _, tt := range strictFieldCases {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, fixed("x", tt.header...))
			for range 2 {
				if r := hs.get("/x"); r.code != http.StatusOK || r.body != "x" {
					t.Fatalf("GET: %d %q", r.code, r.body)
				}
			}
			hs.expectHits(tt.originHits)
		})
	}
}

// TestStrictFieldsTwoTiers: edge → shield → origin; the shield passes the
// fields on as the origin sent them (Age as its own computed age), and
// both tiers read them the same way.
func TestStrictFieldsTwoTiers(t *testing.T) {
	for _, tt := range strictFieldCases {
		t.Run(tt.name, func(t *testing.T) {
			shield := newHarness(t, fixed("x", tt.header...),
				func(c *edge.Config) { c.ClientFacing = false; c.Node = "shield" })
			e := edgeBehind(t, shield, "edge-a")
			for range 2 {
				if resp, body := edgeGet(t, e, "/x"); resp.StatusCode != http.StatusOK || body != "x" {
					t.Fatalf("GET: %d %q", resp.StatusCode, body)
				}
			}
			shield.expectHits(tt.originHits)
		})
	}
}
