package geodns_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tern-cdn/tern/internal/testkit"
)

// TestFreshNodeUncheckedTTL: until an edge's first check ends, answers
// built on it (or that it could change) carry the short TTL, never the full
// one: a (re)started node must not hand out a dead edge for 30s.
func TestFreshNodeUncheckedTTL(t *testing.T) {
	// Checks time out after 5s: the hung edges stay unchecked that long.
	f := newFleet(t, "", "\n  health: {interval: 50ms, timeout: 5s, rise: 2, fall: 2}")
	for _, e := range f.edges {
		e.hung.Store(true)
	}
	f.run(t)
	const short, full = 5, 30 // max(interval, timeout) and dns.ttl
	ttlOf := func(subnet string, qtype uint16, network string) (uint32, []string) {
		t.Helper()
		r := f.ask(t, network, withECS(question("www.cdn.test.", qtype), subnet))
		if len(r.Answer) == 0 {
			t.Fatalf("%s %s: no answer", subnet, dns.TypeToString[qtype])
		}
		return r.Answer[0].Header().Ttl, addrs(r)
	}
	eu, us := "192.0.2.1/24", "198.51.100.7/24"

	// Nothing checked: each client's nearest data center, short TTL (on
	// the fast path; through a CNAME, on the dns.Msg path).
	for _, network := range []string{"udp", "tcp"} {
		if ttl, got := ttlOf(eu, dns.TypeA, network); ttl != short || !slices.Equal(got, []string{"192.0.2.11"}) {
			t.Errorf("%s, nothing checked: eu client got %v TTL %d, want [192.0.2.11] TTL %d", network, got, ttl, short)
		}
		if ttl, _ := ttlOf(eu, dns.TypeAAAA, network); ttl != short {
			t.Errorf("%s, nothing checked: AAAA TTL %d, want %d", network, ttl, short)
		}
		if ttl, got := ttlOf(us, dns.TypeA, network); ttl != short || len(got) != 2 {
			t.Errorf("%s, nothing checked: us client got %v TTL %d, want both us-east edges, TTL %d", network, got, ttl, short)
		}
		r := f.ask(t, network, withECS(question("static.cdn.test.", dns.TypeA), eu))
		if len(r.Answer) != 2 || r.Answer[1].Header().Ttl != short {
			t.Errorf("%s, nothing checked: through the CNAME: %v, want the A with TTL %d", network, r.Answer, short)
		}
	}
	if s := getJSON(t, "http://"+f.admin+"/status"); !strings.Contains(s, `"unchecked": true`) || !strings.Contains(s, `"checked": false`) {
		t.Errorf("status before any check: %s", s)
	}

	// All but eu-west checked and up: the us client's answer is known
	// good (full TTL, once both us-east edges are in); the eu client gets
	// us-east, known good, but with the short TTL since its nearer
	// eu-west is not known yet.
	for name, e := range f.edges {
		if name != "eu-west-1" {
			e.release()
		}
	}
	// Within 4s: before the hung check times out.
	testkit.Eventually(t, 4*time.Second, "the us client's full TTL after us-east passed its checks", func() bool {
		ttl, got := ttlOf(us, dns.TypeA, "udp")
		if ttl == full && len(got) != 2 {
			t.Fatalf("us client got %v with the full TTL before both us-east edges were checked", got)
		}
		return ttl == full
	})
	for _, network := range []string{"udp", "tcp"} {
		if ttl, got := ttlOf(eu, dns.TypeA, network); ttl != short || len(got) != 2 || got[0] != "192.0.2.21" {
			t.Errorf("%s, eu-west unchecked: eu client got %v TTL %d, want us-east, TTL %d", network, got, ttl, short)
		}
	}

	// eu-west's first check fails: known down; the eu client's us-east
	// answer gets the full TTL.
	f.edges["eu-west-1"].up.Store(false)
	f.edges["eu-west-1"].release()
	testkit.Eventually(t, 5*time.Second, "the eu client's two us-east edges with the full TTL after eu-west failed its check", func() bool {
		ttl, got := ttlOf(eu, dns.TypeA, "udp")
		return ttl == full && len(got) == 2
	})
	if ttl, _ := ttlOf(eu, dns.TypeA, "tcp"); ttl != full {
		t.Errorf("tcp: TTL %d once every edge is checked, want %d", ttl, full)
	}
}

// TestBadVersMetric: BADVERS (16 with an OPT) is counted under its own
// name, not as BADSIG (16 in a TSIG context).
func TestBadVersMetric(t *testing.T) {
	f := startFleet(t, "", "")
	m := question("www.cdn.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	if r := f.ask(t, "udp", m); r.Rcode != dns.RcodeBadVers {
		t.Fatalf("rcode %d, want BADVERS", r.Rcode)
	}
	want := `tern_dns_queries_total{qtype="A",rcode="BADVERS"} 1`
	// The worker flushes its tally after the reply.
	var metrics string
	testkit.Within(5*time.Second, func() bool {
		metrics = getJSON(t, "http://"+f.admin+"/metrics")
		return strings.Contains(metrics, want)
	})
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
	if strings.Contains(metrics, `rcode="BADSIG"`) {
		t.Error(`metrics name an rcode "BADSIG"; no TSIG is served`)
	}
}
