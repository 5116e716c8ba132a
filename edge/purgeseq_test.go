package edge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/store"
	"github.com/tern-cdn/tern/origin"
)

// purgeSeqTier is a cache node in front of a counting upstream that
// records each request's Tern-Purge-Seq.
type purgeSeqTier struct {
	mu   sync.Mutex
	hits int
	seqs []string
	srv  *httptest.Server // the node
}

func newPurgeSeqTier(t *testing.T, fleet *origin.Fleet, shielded bool, applied uint64) *purgeSeqTier {
	p := &purgeSeqTier{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits++
		p.seqs = append(p.seqs, strings.Join(r.Header.Values(origin.PurgeSeqHeader), ","))
		p.mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=300")
		io.WriteString(w, "body")
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	mem, err := store.NewMemory(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	h, err := edge.NewHandler(edge.Config{
		Node:         "n",
		Sites:        []edge.Site{{Name: "t", Hosts: []string{"www.cdn.test"}, Origin: u}},
		Upstream:     http.DefaultTransport,
		Shielded:     shielded,
		Store:        mem,
		Fleet:        fleet,
		PurgeApplied: func() uint64 { return applied },
	})
	if err != nil {
		t.Fatal(err)
	}
	p.srv = newEdgeServer(t, h)
	t.Cleanup(func() { p.srv.Close(); h.Close(); mem.Close() })
	return p
}

func (p *purgeSeqTier) get(t *testing.T, rt http.RoundTripper, seq string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.srv.URL+"/a.js", nil)
	req.Host = "www.cdn.test"
	if seq != "" {
		req.Header.Set(origin.PurgeSeqHeader, seq)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func (p *purgeSeqTier) upstream() (int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits, append([]string(nil), p.seqs...)
}

// TestPurgeSeqShieldBypass: a shield that applied purge 5 answers a fleet
// edge that applied purge 9 from upstream, not from its cache, but serves
// its copy to an edge at 5 and to anyone whose Tern-Purge-Seq is not
// signed by the fleet.
func TestPurgeSeqShieldBypass(t *testing.T) {
	fleet := origin.NewFleet([]byte("secret"))
	shield := newPurgeSeqTier(t, fleet, false, 5)
	signed := fleet.Sign(http.DefaultTransport)
	shield.get(t, signed, "5") // stored
	for _, step := range []struct {
		rt       http.RoundTripper
		seq      string
		wantHits int
	}{
		{http.DefaultTransport, "9", 1}, // not the fleet: not believed
		{signed, "5", 1},                // the shield applied it
		{signed, "9", 2},                // behind: from upstream
		{signed, "9", 3},                // and not stored over its copy's place
		{signed, "4", 3},
	} {
		shield.get(t, step.rt, step.seq)
		if hits, _ := shield.upstream(); hits != step.wantHits {
			t.Errorf("after seq %s: %d upstream requests, want %d", step.seq, hits, step.wantHits)
		}
	}
	if _, seqs := shield.upstream(); seqs[1] != "" {
		t.Errorf("a shield sent Tern-Purge-Seq %q upstream", seqs[1])
	}
}

// TestPurgeSeqEdgeSendsItsOwn: a shielded edge sends its own applied purge
// upstream, never the one a client sent.
func TestPurgeSeqEdgeSendsItsOwn(t *testing.T) {
	e := newPurgeSeqTier(t, origin.NewFleet([]byte("secret")), true, 7)
	e.get(t, http.DefaultTransport, "99")
	if _, seqs := e.upstream(); len(seqs) != 1 || seqs[0] != "7" {
		t.Errorf("upstream got Tern-Purge-Seq %q, want [7]", seqs)
	}
}
