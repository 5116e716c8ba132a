package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/client"
	"github.com/tern-cdn/tern/purge/natsbus"
)

// twoHostFleetYAML is the fleet of startPurgeFleet with a second host,
// img.cdn.test, on the same site.
var twoHostFleetYAML = strings.Replace(purgeFleetYAML, "hosts: [www.cdn.test]", "hosts: [www.cdn.test, img.cdn.test]", 1)

// getHost asks an edge for host+path; it returns the body and the
// Cache-Status.
func (f *purgeFleet) getHost(edge, host, path string) (string, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+f.nodes[edge].Listen+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET %s%s at %s: %d %v", host, path, edge, resp.StatusCode, err)
	}
	return string(b), resp.Header.Get("Cache-Status")
}

// warmHost asks every edge for host+path until it is a hit there.
func (f *purgeFleet) warmHost(host, path string) {
	f.t.Helper()
	for _, e := range f.edges {
		f.getHost(e, host, path)
		if _, status := f.getHost(e, host, path); !edgeHit(e, status) {
			f.t.Fatalf("%s%s at %s: second request Cache-Status %q, want a hit", host, path, e, status)
		}
	}
}

// object is one host+path of the two-host site.
type object struct{ host, path string }

// checkPurged asks every edge for each object: purged ones must be misses,
// the others hits; and the origin must have been asked once per edge for
// each purged path and never for the others (the shields purged too).
func checkPurged(t *testing.T, f *purgeFleet, o *purgeOrigin, purged, kept []object) {
	t.Helper()
	count := func(objs []object) map[string]int {
		c := map[string]int{}
		for _, ob := range objs {
			c[ob.path] = o.count(ob.path)
		}
		return c
	}
	purgedBefore, keptBefore := count(purged), count(kept)
	for _, e := range f.edges {
		for _, ob := range purged {
			if _, status := f.getHost(e, ob.host, ob.path); edgeHit(e, status) {
				t.Errorf("%s %s%s after the purge: %q, want a miss", e, ob.host, ob.path, status)
			}
		}
		for _, ob := range kept {
			if _, status := f.getHost(e, ob.host, ob.path); !edgeHit(e, status) {
				t.Errorf("%s %s%s (not purged) after the purge: %q, want a hit", e, ob.host, ob.path, status)
			}
		}
	}
	for _, ob := range purged {
		if got := o.count(ob.path) - purgedBefore[ob.path]; got < 1 {
			t.Errorf("origin requests for %s%s after the purge: %d, want at least 1", ob.host, ob.path, got)
		}
	}
	for _, ob := range kept {
		if got := o.count(ob.path) - keptBefore[ob.path]; got != 0 {
			t.Errorf("origin requests for %s%s (not purged): %d, want 0", ob.host, ob.path, got)
		}
	}
}

func warmAll(f *purgeFleet, objs ...[]object) {
	for _, list := range objs {
		for _, ob := range list {
			f.warmHost(ob.host, ob.path)
		}
	}
}

func checkAllApplied(t *testing.T, f *purgeFleet, out string) {
	t.Helper()
	for _, name := range append(append([]string{}, f.edges...), f.shields...) {
		if !regexpApplied(out, name) {
			t.Errorf("%s not applied:\n%s", name, out)
		}
	}
}

// TestPurgeFleetHosts: a hosts purge removes everything of that host of
// the site at every edge and shield, and nothing of its other host.
// (The origin's paths differ per host so that its counts tell them apart.)
func TestPurgeFleetHosts(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleetFrom(t, fmt.Sprintf(twoHostFleetYAML, o.srv.URL))
	purged := []object{{"img.cdn.test", "/i/a.png"}, {"img.cdn.test", "/i/b.js"}}
	kept := []object{{"www.cdn.test", "/w/a.png"}, {"www.cdn.test", "/w/b.js"}}
	warmAll(f, purged, kept)
	checkAllApplied(t, f, f.purge("--host", "img.cdn.test"))
	checkPurged(t, f, o, purged, kept)
}

// TestPurgeFleetHostPrefix: a "host/path" prefix purges that path prefix
// of that host only: the same prefix on the other host, and other paths
// of the host, stay cached.
func TestPurgeFleetHostPrefix(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleetFrom(t, fmt.Sprintf(twoHostFleetYAML, o.srv.URL))
	purged := []object{{"img.cdn.test", "/img/x/1.png"}, {"img.cdn.test", "/img/x/2.png"}}
	kept := []object{{"www.cdn.test", "/img/y/1.png"}, {"img.cdn.test", "/other/1.png"}, {"img.cdn.test", "/im.png"}}
	warmAll(f, purged, kept)
	checkAllApplied(t, f, f.purge("--prefix", "img.cdn.test/img/"))
	checkPurged(t, f, o, purged, kept)
}

// TestPurgeFleetEverything: purge_everything removes every object of the
// site, of every host, at every edge and shield.
func TestPurgeFleetEverything(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleetFrom(t, fmt.Sprintf(twoHostFleetYAML, o.srv.URL))
	purged := []object{{"www.cdn.test", "/e/a.js"}, {"www.cdn.test", "/e/b.css"}, {"img.cdn.test", "/e/c.png"}}
	warmAll(f, purged)
	checkAllApplied(t, f, f.purge("--all"))
	checkPurged(t, f, o, purged, nil)
}

// TestPurgeFleetMissedInvalidatesAll: an edge that was down while purges
// were published and removed from the stream (as max_age would) finds,
// when it returns, that its last applied purge is older than the stream's
// first: it treats everything it stored as purged, even objects no purge
// named, while an edge that was up keeps them.
func TestPurgeFleetMissedInvalidatesAll(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleet(t, o.srv.URL)
	f.warm("/named.js")
	f.warm("/unnamed.css")
	f.stop("edge-1")
	c := &client.Client{API: f.api, Token: purgeToken} // not --wait: edge-1 stays pending
	if _, err := c.Purge(context.Background(), purge.Purge{Site: "test", Files: []string{"/named.js"}}, ""); err != nil {
		t.Fatal(err)
	}
	purgeStream(t, f.opts.PurgeBusURLs[0])

	ref, _ := f.top.Lookup("edge-1")
	ref.Node.Listen, _ = configs.ParseAddr("127.0.0.1:0")
	ref.Node.Admin, _ = configs.ParseAddr("127.0.0.1:0")
	f.start("edge-1")
	f.waitReady("edge-1")
	for _, p := range []string{"/named.js", "/unnamed.css"} {
		if _, status := f.get("edge-1", p); edgeHit("edge-1", status) {
			t.Errorf("edge-1 %s after missing purges the stream lost: %q, want a miss", p, status)
		}
	}
	if _, status := f.get("edge-2", "/unnamed.css"); !edgeHit("edge-2", status) {
		t.Errorf("edge-2 (never away) /unnamed.css: %q, want a hit", status)
	}
}

// purgeStream removes every message of the purge stream, as its max_age
// would after a long absence.
func purgeStream(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, natsbus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx); err != nil {
		t.Fatal(err)
	}
}
