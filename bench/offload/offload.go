package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// clientsFor returns the edges' traffic addresses and a keep-alive client
// for each.
func clientsFor(c *cluster, conns int) ([]string, []*http.Client) {
	var addrs []string
	var clients []*http.Client
	for _, e := range c.edges {
		addrs = append(addrs, e.node.Listen)
		clients = append(clients, newClient(conns))
	}
	return addrs, clients
}

// offloadRun is the Zipf run against one cluster.
type offloadRun struct {
	st          loadStats
	originReqs  int64
	distinct    int
	ratio       float64
	maxPerObj   int
	multiFetch  int // objects the origin served more than once
	pairs       int // distinct (edge, object) pairs
	edgeMetrics []metrics
}

func zipfRun(c *cluster, o options, label string) (offloadRun, error) {
	seq := zipfSeq(o.requests, o.objects, o.zipfS, o.seed, 0)
	distinct := map[uint64]bool{}
	pairs := map[[2]uint64]bool{} // (edge, object): what edges without shields fetch
	for i, n := range seq {
		distinct[n] = true
		pairs[[2]uint64{uint64(i % len(c.edges)), n}] = true
	}
	// The expected checksums are computed before the clock starts.
	for n := range distinct {
		expect(n)
	}
	addrs, clients := clientsFor(c, o.conc)
	before := c.origin.total.Load()
	st := runLoad(addrs, clients, seq, loadOpts{conc: o.conc})
	var r offloadRun
	r.st = st
	r.originReqs = c.origin.total.Load() - before
	r.distinct = len(distinct)
	r.ratio = float64(r.originReqs) / float64(r.distinct)
	r.pairs = len(pairs)
	for _, k := range c.origin.CountsOf(distinct) {
		r.maxPerObj = max(r.maxPerObj, k)
		if k > 1 {
			r.multiFetch++
		}
	}
	var err error
	if r.edgeMetrics, err = scrapeAll(c.edgeAdmins()); err != nil {
		return r, err
	}
	corrupt += st.corrupt
	durs := append([]time.Duration(nil), st.durs...)
	fmt.Printf("%s: %d requests (Zipf s=%.2f over %d objects, seed %d, round-robin over %d edges, %d clients)\n",
		label, st.requests, o.zipfS, o.objects, o.seed, len(addrs), o.conc)
	fmt.Printf("  origin requests %d, distinct objects %d, ratio %.4f; max requests for one object %d, objects fetched more than once %d\n",
		r.originReqs, r.distinct, r.ratio, r.maxPerObj, r.multiFetch)
	fmt.Printf("  distinct (edge, object) pairs %d = %.4f × distinct objects (what three independent edges must fetch)\n",
		r.pairs, float64(r.pairs)/float64(r.distinct))
	fmt.Printf("  client: %d ok, %d errors (%s), %d wrong bodies; wall %s (%.0f req/s); latency p50 %s p99 %s\n",
		st.ok, st.errors, st.codesString(), st.corrupt, st.wall.Round(time.Millisecond),
		float64(st.requests)/st.wall.Seconds(), ms(pct(durs, 50)), ms(pct(durs, 99)))
	for _, s := range st.samples {
		fmt.Println("    error:", s)
	}
	em := r.edgeMetrics
	fmt.Printf("  edges: hit %.0f, miss %.0f, collapsed waiters %.0f, stored objects %.0f\n",
		sumAll(em, "tern_edge_requests_total", "cache=hit"), sumAll(em, "tern_edge_requests_total", "cache=miss"),
		sumAll(em, "tern_edge_collapsed_waiters_total"), sumAll(em, "tern_edge_store_objects"))
	if len(c.order) > 0 {
		sm, err := scrapeAll(shieldAdmins(c))
		if err != nil {
			return r, err
		}
		var parts []string
		for i, name := range c.order {
			parts = append(parts, fmt.Sprintf("%s ok %.0f (hit %.0f, miss %.0f, collapsed %.0f)", name,
				sumAll(em, "tern_upstream_requests_total", "pool=shields", "upstream="+name, "result=ok"),
				sm[i].sum("tern_edge_requests_total", "cache=hit"), sm[i].sum("tern_edge_requests_total", "cache=miss"),
				sm[i].sum("tern_edge_collapsed_waiters_total")))
		}
		fmt.Printf("  edge→shield requests: %s; edge→origin %.0f; failovers %.0f\n", strings.Join(parts, "; "),
			sumAll(em, "tern_upstream_requests_total", "pool=site-bench"), sumAll(em, "tern_upstream_failovers_total"))
	} else {
		fmt.Printf("  edge→origin requests %.0f\n", sumAll(em, "tern_upstream_requests_total", "pool=site-bench"))
	}
	return r, nil
}

func shieldAdmins(c *cluster) []string {
	var out []string
	for _, name := range c.order {
		out = append(out, c.shields[name].node.Admin)
	}
	return out
}

func runOffloadAndLatency(o options, dataDir string) error {
	c, err := startCluster(clusterOpts{name: "shielded", shields: true}, dataDir, o.log)
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Printf("\n== cluster %q: origin %s; shields %s %s; edges %s %s %s\n", c.name, c.origin.Addr,
		c.shields["shield-1"].node.Listen, c.shields["shield-2"].node.Listen,
		c.edges[0].node.Listen, c.edges[1].node.Listen, c.edges[2].node.Listen)
	if o.parts["offload"] {
		fmt.Println("\n== 1. offload, 3 edges + 2 shields")
		r, err := zipfRun(c, o, "shielded")
		if err != nil {
			return err
		}
		add("1 offload", "origin reqs / distinct objects, 2 shields", fmt.Sprintf("%d / %d = %.4f", r.originReqs, r.distinct, r.ratio), "target 1.00")
		add("1 offload", "client errors / wrong bodies, 2 shields", fmt.Sprintf("%d / %d", r.st.errors, r.st.corrupt), fmt.Sprintf("%d requests", r.st.requests))
		add("1 offload", "wall time, 2 shields", r.st.wall.Round(time.Millisecond).String(), fmt.Sprintf("%.0f req/s, %d clients", float64(r.st.requests)/r.st.wall.Seconds(), o.conc))
		if r.ratio > 1.0 {
			problems = append(problems, fmt.Sprintf("shielded offload ratio %.4f > 1.00", r.ratio))
		}
	}
	if o.parts["latency"] {
		if err := runLatency(c, o); err != nil {
			return err
		}
	}
	return nil
}

func runNoShields(o options, dataDir string) error {
	c, err := startCluster(clusterOpts{name: "unshielded"}, dataDir, o.log)
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Printf("\n== 1b. offload, 3 edges, no shields (cluster %q: origin %s)\n", c.name, c.origin.Addr)
	r, err := zipfRun(c, o, "unshielded")
	if err != nil {
		return err
	}
	add("1 offload", "origin reqs / distinct objects, no shields", fmt.Sprintf("%d / %d = %.4f", r.originReqs, r.distinct, r.ratio),
		fmt.Sprintf("ideal %.4f: distinct (edge, object) pairs %d; ≤ 3", float64(r.pairs)/float64(r.distinct), r.pairs))
	add("1 offload", "client errors / wrong bodies, no shields", fmt.Sprintf("%d / %d", r.st.errors, r.st.corrupt), "")
	add("1 offload", "wall time, no shields", r.st.wall.Round(time.Millisecond).String(), fmt.Sprintf("%.0f req/s", float64(r.st.requests)/r.st.wall.Seconds()))
	return nil
}

// runLatency measures, one request at a time: full misses through edge A
// (edge miss, shield miss, origin), then for each object, through edge B,
// first an edge miss that is a shield hit and right after it an edge hit
// of the same object (paired, so both see the same machine noise).
func runLatency(c *cluster, o options) error {
	const base = 1_000_000
	n := o.latN
	for i := range n {
		expect(uint64(base + i))
	}
	a, b := c.edges[0], c.edges[1]
	ca, cb := newClient(2), newClient(2)
	buf := make([]byte, 64<<10)
	fetch := func(cl *http.Client, e *runningNode, obj uint64) result {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r := fetchObject(ctx, cl, e.node.Listen, obj, buf)
		if r.corrupt {
			corrupt++
		}
		return r
	}
	// Warm the connections.
	for i := range 20 {
		fetch(ca, a, uint64(i))
		fetch(cb, b, uint64(i))
	}
	fmt.Printf("\n== 2. latency, %d objects (1–%d KiB), one request at a time, keep-alive\n", n, maxKiB)
	var miss, shieldHit, edgeHit, diff []time.Duration
	var wrong int
	var wrongSample string
	bad := func(r result, want string) {
		wrong++
		if wrongSample == "" {
			wrongSample = fmt.Sprintf("want %s, got %d %q %v", want, r.code, r.cacheStatus, r.err)
		}
	}
	for i := range n {
		r := fetch(ca, a, uint64(base+i))
		if r.code != 200 || r.err != nil || !strings.Contains(r.cacheStatus, "; fwd=miss; stored, tern-edge-a; fwd=miss") {
			bad(r, "full miss")
			continue
		}
		miss = append(miss, r.dur)
	}
	for i := range n {
		rb := fetch(cb, b, uint64(base+i))
		ra := fetch(cb, b, uint64(base+i))
		okB := rb.code == 200 && rb.err == nil && strings.HasPrefix(rb.cacheStatus, "tern-shield-") &&
			strings.Contains(rb.cacheStatus, "; hit;") && strings.Contains(rb.cacheStatus, ", tern-edge-b; fwd=miss")
		okA := ra.code == 200 && ra.err == nil && strings.HasPrefix(ra.cacheStatus, "tern-edge-b; hit")
		if !okB {
			bad(rb, "shield hit")
		}
		if !okA {
			bad(ra, "edge hit")
		}
		if okA && okB {
			shieldHit = append(shieldHit, rb.dur)
			edgeHit = append(edgeHit, ra.dur)
			diff = append(diff, rb.dur-ra.dur)
		}
	}
	p := func(ds []time.Duration) (time.Duration, time.Duration) { return pct(ds, 50), pct(ds, 99) }
	eh50, eh99 := p(edgeHit)
	sh50, sh99 := p(shieldHit)
	m50, m99 := p(miss)
	d50 := pct(diff, 50)
	fmt.Printf("  (a) edge hit               n=%d  p50 %s  p99 %s\n", len(edgeHit), ms(eh50), ms(eh99))
	fmt.Printf("  (b) edge miss, shield hit  n=%d  p50 %s  p99 %s\n", len(shieldHit), ms(sh50), ms(sh99))
	fmt.Printf("      edge+shield miss       n=%d  p50 %s  p99 %s  (origin on loopback, for reference)\n", len(miss), ms(m50), ms(m99))
	fmt.Printf("  added by a shield hit: p50 %+.3f ms, p99 %+.3f ms; median of per-object differences %+.3f ms\n",
		msf(sh50-eh50), msf(sh99-eh99), msf(d50))
	if wrong > 0 {
		fmt.Printf("  %d responses had another Cache-Status than expected (left out), e.g. %s\n", wrong, wrongSample)
		problems = append(problems, fmt.Sprintf("latency: %d unexpected Cache-Status: %s", wrong, wrongSample))
	}
	add("2 latency", "edge hit p50 / p99", ms(eh50)+" / "+ms(eh99), fmt.Sprintf("n=%d", len(edgeHit)))
	add("2 latency", "edge miss + shield hit p50 / p99", ms(sh50)+" / "+ms(sh99), fmt.Sprintf("n=%d", len(shieldHit)))
	add("2 latency", "added by shield hit p50 / p99", fmt.Sprintf("%+.3f / %+.3f ms", msf(sh50-eh50), msf(sh99-eh99)), fmt.Sprintf("paired median %+.3f ms", msf(d50)))
	add("2 latency", "edge+shield miss (origin) p50 / p99", ms(m50)+" / "+ms(m99), "reference")
	return nil
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
