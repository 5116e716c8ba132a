package origin

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"testing"
)

func upstreams(names ...string) []*Upstream {
	var ups []*Upstream
	for _, n := range names {
		ups = append(ups, &Upstream{Name: n})
	}
	return ups
}

func names(ups []*Upstream) []string {
	var out []string
	for _, u := range ups {
		out = append(out, u.Name)
	}
	return out
}

func TestRankDeterministic(t *testing.T) {
	ups := upstreams("shield-a", "shield-b", "shield-c", "shield-d")
	for i := range 200 {
		key := fmt.Sprintf("www.cdn.test/asset/%d.js?", i)
		first := names(Rank(key, ups))
		if len(first) != len(ups) {
			t.Fatalf("Rank returned %d upstreams, want %d", len(first), len(ups))
		}
		// Same answer again, from fresh Upstream values (another node) and
		// whatever the input order.
		again := upstreams("shield-d", "shield-b", "shield-a", "shield-c")
		if got := names(Rank(key, again)); !slices.Equal(got, first) {
			t.Fatalf("key %q: %v, then %v", key, first, got)
		}
	}
	if got := names(ups); !slices.Equal(got, []string{"shield-a", "shield-b", "shield-c", "shield-d"}) {
		t.Fatalf("Rank reordered its input: %v", got)
	}
}

// TestRankGolden pins the hash: nodes of a fleet running different
// versions must still agree on every key's shield. Changing it moves
// every key, so it needs a deliberate, fleet-wide roll-out.
func TestRankGolden(t *testing.T) {
	ups := upstreams("s0", "s1", "s2", "s3", "s4")
	var got []string
	for i := range 16 {
		got = append(got, Rank(fmt.Sprintf("www.cdn.test/g/%d.js?", i), ups)[0].Name)
	}
	if want := "[s1 s3 s2 s2 s2 s3 s1 s1 s3 s0 s2 s0 s4 s2 s2 s4]"; fmt.Sprint(got) != want {
		t.Errorf("first choices = %s, want %s", fmt.Sprint(got), want)
	}
	if got, want := names(Rank("www.cdn.test/video.mp4?v=2", ups)), "[s0 s3 s2 s4 s1]"; fmt.Sprint(got) != want {
		t.Errorf("Rank(video) = %s, want %s", fmt.Sprint(got), want)
	}
}

func owners(keys []string, ups []*Upstream) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = Rank(k, ups)[0].Name
	}
	return out
}

func TestRankStableAndEven(t *testing.T) {
	const n, nkeys = 5, 10000
	ups := upstreams("s0", "s1", "s2", "s3", "s4")
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("www.cdn.test/static/%d/app.css?v=%d", i, i%7)
	}
	before := owners(keys, ups)

	// Roughly even: each gets 1/n of the keys within 10% (the standard
	// deviation is 40 keys, the tolerance 200).
	count := map[string]int{}
	for _, o := range before {
		count[o]++
	}
	for _, u := range ups {
		if c := count[u.Name]; math.Abs(float64(c)-nkeys/n) > 0.1*nkeys/n {
			t.Errorf("%s owns %d of %d keys, want about %d", u.Name, c, nkeys, nkeys/n)
		}
	}

	// Remove s2: only its keys move, each to its second choice.
	removed := "s2"
	rest := slices.DeleteFunc(upstreams("s0", "s1", "s2", "s3", "s4"), func(u *Upstream) bool { return u.Name == removed })
	after := owners(keys, rest)
	moved := 0
	for _, k := range keys {
		if before[k] == removed {
			moved++
			if want := Rank(k, ups)[1].Name; after[k] != want {
				t.Fatalf("key %q moved to %s, want its second choice %s", k, after[k], want)
			}
			continue
		}
		if after[k] != before[k] {
			t.Fatalf("key %q moved from %s to %s though %s was removed", k, before[k], after[k], removed)
		}
	}
	if frac := float64(moved) / nkeys; math.Abs(frac-1.0/n) > 0.02 {
		t.Errorf("removing one of %d moved %.3f of the keys, want about %.3f", n, frac, 1.0/n)
	}

	// Add s5: it takes about 1/(n+1) of the keys, each from its owner.
	more := upstreams("s0", "s1", "s2", "s3", "s4", "s5")
	added := owners(keys, more)
	taken := 0
	for _, k := range keys {
		if added[k] != before[k] {
			if added[k] != "s5" {
				t.Fatalf("key %q moved from %s to %s, not to the new s5", k, before[k], added[k])
			}
			taken++
		}
	}
	if frac := float64(taken) / nkeys; math.Abs(frac-1.0/(n+1)) > 0.02 {
		t.Errorf("adding a %dth took %.3f of the keys, want about %.3f", n+1, frac, 1.0/(n+1))
	}
}

func TestRequestKey(t *testing.T) {
	mk := func(url, host string, hdr ...string) *http.Request {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		return req
	}
	for _, tc := range []struct {
		req  *http.Request
		want string
	}{
		{mk("http://origin.test/a.js", "www.cdn.test"), "www.cdn.test/a.js?"},
		{mk("http://origin.test/a.js?v=1&b=2", "WWW.CDN.test"), "www.cdn.test/a.js?v=1&b=2"},
		{mk("http://origin.test/video.mp4", "www.cdn.test", "Range", "bytes=1048576-2097151"), "www.cdn.test/video.mp4?"},
		{mk("http://Origin.test/a%20b.js", ""), "origin.test/a%20b.js?"},
	} {
		if got := RequestKey(tc.req); got != tc.want {
			t.Errorf("RequestKey(%s Host %q) = %q, want %q", tc.req.URL, tc.req.Host, got, tc.want)
		}
	}
}

func BenchmarkRank(b *testing.B) {
	ups := upstreams("s0", "s1", "s2", "s3", "s4")
	for b.Loop() {
		Rank("www.cdn.test/static/app.css?v=3", ups)
	}
}
