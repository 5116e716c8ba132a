package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-cdn/tern/origin"
)

// faultUpstream is the upstream section of the fault topology.
const faultUpstream = `  timeout: 2s
  health:
    interval: 200ms
    rise: 2
    fall: 2
    max_fails: 2
    fail_backoff: 500ms
`

func runFaults(o options, dataDir string) error {
	c, err := startCluster(clusterOpts{name: "faults", shields: true, fixedPorts: true, upstream: faultUpstream}, dataDir, o.log)
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Printf("\n== cluster %q: origin %s; shield-1 %s (admin %s), shield-2 %s (admin %s); upstream timeout 2s, health interval 200ms rise 2 fall 2 max_fails 2 fail_backoff 500ms\n",
		c.name, c.origin.Addr, c.shields["shield-1"].node.Listen, c.shields["shield-1"].node.Admin,
		c.shields["shield-2"].node.Listen, c.shields["shield-2"].node.Admin)
	k, err := runShieldKill(c, o)
	if err != nil {
		return err
	}
	// Hot objects: those of the 3a run before the kill.
	seen := map[uint64]bool{}
	var hot []uint64
	for _, n := range k.seq[:k.killAt] {
		if !seen[n] {
			seen[n] = true
			hot = append(hot, n)
		}
	}
	if err := runSlowOrigin(c, o, hot); err != nil {
		return err
	}
	if err := runHungShield(c, o, false); err != nil {
		return err
	}
	if err := runHungShield(c, o, true); err != nil {
		return err
	}
	return runOriginDown(c, o, hot, k)
}

// shieldStatus is one edge's view of a shield, from its admin /status.
func shieldStatus(admin, name string) (origin.UpstreamStatus, error) {
	resp, err := adminClient.Get("http://" + admin + "/status")
	if err != nil {
		return origin.UpstreamStatus{}, err
	}
	defer resp.Body.Close()
	var st struct {
		Upstreams []origin.UpstreamStatus `json:"upstreams"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return origin.UpstreamStatus{}, err
	}
	for _, u := range st.Upstreams {
		if u.Pool == "shields" && u.Name == name {
			return u, nil
		}
	}
	return origin.UpstreamStatus{}, fmt.Errorf("%s: no shield %s in /status", admin, name)
}

// allEdges reports whether pred holds for every edge's view of shield name.
func allEdges(c *cluster, name string, pred func(origin.UpstreamStatus) bool) bool {
	for _, a := range c.edgeAdmins() {
		u, err := shieldStatus(a, name)
		if err != nil || !pred(u) {
			return false
		}
	}
	return true
}

// killRun is what part 3a did: its sequence and where the kill and the
// rebuild fell in it.
type killRun struct {
	seq               []uint64
	killAt, restartAt int
}

// runShieldKill is part 3a: a paced Zipf run; at 1/3 of it shield-1's Run
// context is cancelled, at 2/3 a new node is built for it on the same
// addresses.

func runShieldKill(c *cluster, o options) (killRun, error) {
	const victim, survivor = "shield-1", "shield-2"
	n := o.faultRequests
	seq := zipfSeq(n, o.faultObjects, o.zipfS, o.seed+1, 2_000_000)
	for _, k := range seq {
		expect(k)
	}
	addrs, clients := clientsFor(c, o.conc)
	old := c.shields[victim]
	killAt, restartAt := n/3, 2*n/3
	fmt.Printf("\n== 3a. shield killed under load: %d requests, Zipf over %d objects, %d clients, %.0f req/s; %s stopped at request %d, rebuilt at request %d\n",
		n, o.faultObjects, o.conc, o.faultRate, victim, killAt, restartAt)

	type snap struct {
		at     time.Duration
		edges  []metrics
		origin int64
	}
	var (
		start                      = time.Now()
		snaps                      = map[string]snap{}
		snapMu                     sync.Mutex
		killed, restarted          = make(chan struct{}), make(chan struct{})
		stopDur                    time.Duration
		stopErr, restartErr        error
		reborn                     *runningNode
		downSeen, upSeen, firstReq atomic.Int64 // ns since start, 0: not yet
		monitorDone                = make(chan struct{})
		monitorStop                = make(chan struct{})
		restartAtT, killAtT        time.Duration
	)
	takeSnap := func(name string) {
		m, err := scrapeAll(c.edgeAdmins())
		if err != nil {
			fmt.Println("  scrape:", err)
		}
		snapMu.Lock()
		snaps[name] = snap{time.Since(start), m, c.origin.total.Load()}
		snapMu.Unlock()
	}
	takeSnap("start")
	start = time.Now()
	onIssue := func(i int) {
		switch i {
		case killAt:
			go func() {
				takeSnap("kill")
				killAtT = time.Since(start)
				t := time.Now()
				stopErr = stopNode(old)
				stopDur = time.Since(t)
				close(killed)
				// Watch the edges' view of the victim from now on.
				go func() {
					defer close(monitorDone)
					tick := time.NewTicker(25 * time.Millisecond)
					defer tick.Stop()
					for range 2000 { // at most 50 s
						now := time.Since(start).Nanoseconds()
						if downSeen.Load() == 0 && allEdges(c, victim, func(u origin.UpstreamStatus) bool { return !u.Healthy }) {
							downSeen.Store(now)
						}
						select {
						case <-restarted:
							if upSeen.Load() == 0 && allEdges(c, victim, func(u origin.UpstreamStatus) bool { return u.Available }) {
								upSeen.Store(now)
							}
							if firstReq.Load() == 0 && reborn != nil {
								if m, err := scrape(reborn.node.Admin); err == nil && m.sum("tern_edge_requests_total") > 0 {
									firstReq.Store(now)
								}
							}
						default:
						}
						if upSeen.Load() != 0 && firstReq.Load() != 0 {
							return
						}
						select {
						case <-monitorStop:
							return
						case <-tick.C:
						}
					}
				}()
			}()
		case restartAt:
			go func() {
				<-killed
				takeSnap("restart")
				restartAtT = time.Since(start)
				rn, err := c.startNode(old.ref)
				if err != nil {
					restartErr = err
				} else {
					reborn = rn
				}
				close(restarted)
			}()
		}
	}
	st := runLoad(addrs, clients, seq, loadOpts{conc: o.conc, rate: o.faultRate, onIssue: onIssue})
	<-restarted
	// Give the monitor up to 3 s more to see the shield come back.
	select {
	case <-monitorDone:
	case <-time.After(3 * time.Second):
		close(monitorStop)
		<-monitorDone
	}
	takeSnap("end")
	corrupt += st.corrupt
	if restartErr != nil {
		return killRun{}, fmt.Errorf("restarting %s: %w", victim, restartErr)
	}
	c.shields[victim] = reborn

	// Errors by phase.
	var before, during, after int
	for _, t := range st.errTimes {
		switch {
		case t < killAtT:
			before++
		case t < restartAtT:
			during++
		default:
			after++
		}
	}
	fmt.Printf("  wall %s; kill at %s (Run returned after %s, err %v); rebuilt at %s\n",
		st.wall.Round(time.Millisecond), killAtT.Round(time.Millisecond), stopDur.Round(time.Millisecond), stopErr, restartAtT.Round(time.Millisecond))
	fmt.Printf("  client: %d ok, %d errors (%s): %d before the kill, %d between kill and restart, %d after; %d wrong bodies\n",
		st.ok, st.errors, st.codesString(), before, during, after, st.corrupt)
	for _, s := range st.samples {
		fmt.Println("    error:", s)
	}
	rel := func(v int64) string {
		if v == 0 {
			return "not seen"
		}
		return time.Duration(v).Round(time.Millisecond).String()
	}
	fmt.Printf("  every edge's /status: %s unhealthy (active checks) at %s (kill at %s, Run returned at %s); available again at %s (rebuilt at %s); first request at the new %s at %s\n",
		victim, rel(downSeen.Load()), killAtT.Round(time.Millisecond), (killAtT + stopDur).Round(time.Millisecond),
		rel(upSeen.Load()), restartAtT.Round(time.Millisecond), victim, rel(firstReq.Load()))

	phases := [][2]string{{"start", "kill"}, {"kill", "restart"}, {"restart", "end"}}
	fmt.Println("  edges' tern_upstream_requests_total per phase (sum over the 3 edges); origin← is requests the origin got:")
	fmt.Printf("    %-17s %8s %22s %22s %10s %10s %9s\n", "phase", "length", victim+" ok/failover/err", survivor+" ok/failover/err", "origin ok", "failovers", "origin←")
	for _, ph := range phases {
		a, b := snaps[ph[0]], snaps[ph[1]]
		d := func(name string, labels ...string) float64 {
			return sumAll(b.edges, name, labels...) - sumAll(a.edges, name, labels...)
		}
		trio := func(up string) string {
			return fmt.Sprintf("%.0f/%.0f/%.0f", d("tern_upstream_requests_total", "pool=shields", "upstream="+up, "result=ok"),
				d("tern_upstream_requests_total", "pool=shields", "upstream="+up, "result=failover"),
				d("tern_upstream_requests_total", "pool=shields", "upstream="+up, "result=error"))
		}
		fmt.Printf("    %-17s %8s %22s %22s %10.0f %10.0f %9d\n", ph[0]+"→"+ph[1], (b.at - a.at).Round(time.Millisecond),
			trio(victim), trio(survivor), d("tern_upstream_requests_total", "pool=site-bench", "result=ok"),
			d("tern_upstream_failovers_total"), b.origin-a.origin)
	}
	rm, err := scrape(reborn.node.Admin)
	if err != nil {
		return killRun{}, err
	}
	sm, err := scrape(c.shields[survivor].node.Admin)
	if err != nil {
		return killRun{}, err
	}
	fmt.Printf("  the rebuilt %s served %.0f requests (hit %.0f, miss %.0f); %s served %.0f in all\n", victim,
		rm.sum("tern_edge_requests_total"), rm.sum("tern_edge_requests_total", "cache=hit"), rm.sum("tern_edge_requests_total", "cache=miss"),
		survivor, sm.sum("tern_edge_requests_total"))

	k, r, e := snaps["kill"], snaps["restart"], snaps["end"]
	okDelta := func(from, to snap, up string) float64 {
		return sumAll(to.edges, "tern_upstream_requests_total", "pool=shields", "upstream="+up, "result=ok") -
			sumAll(from.edges, "tern_upstream_requests_total", "pool=shields", "upstream="+up, "result=ok")
	}
	share := func(from, to snap) string {
		sv, vi := okDelta(from, to, survivor), okDelta(from, to, victim)
		if sv+vi == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f%%", 100*sv/(sv+vi))
	}
	victimAfter := okDelta(r, e, victim)
	add("3a shield kill", "client errors (non-200 + transport)", fmt.Sprintf("%d of %d", st.errors, st.requests),
		fmt.Sprintf("%d before kill, %d kill→restart, %d after; %s", before, during, after, st.codesString()))
	add("3a shield kill", survivor+"'s share of edge→shield requests", share(snaps["start"], k)+" → "+share(k, r)+" → "+share(r, e),
		"before the kill → kill→rebuild → after the rebuild")
	add("3a shield kill", victim+" stop (Run returned)", stopDur.Round(time.Millisecond).String(), fmt.Sprintf("err %v", stopErr))
	add("3a shield kill", "edges see "+victim+" unhealthy after", relTo(downSeen.Load(), killAtT), fmt.Sprintf("from the kill; its admin listener stops when Run returns (%s); fall 2 × 200ms", stopDur.Round(time.Millisecond)))
	add("3a shield kill", "edges see "+victim+" up after", relTo(upSeen.Load(), restartAtT), "from the rebuild; rise 2 × 200ms")
	add("3a shield kill", "first request at rebuilt "+victim, relTo(firstReq.Load(), restartAtT), fmt.Sprintf("from the rebuild; edges sent it %.0f requests by the end", victimAfter))
	return killRun{seq, killAt, restartAt}, nil
}

func relTo(v int64, from time.Duration) string {
	if v == 0 {
		return "not seen"
	}
	return (time.Duration(v) - from).Round(time.Millisecond).String()
}

// background runs requests until stop is closed (at most max of them):
// every 4th a fresh object (a miss to the origin), the others from hot
// (hits). It returns the completion time and result of each.
type bgResult struct {
	end time.Time
	r   result
}

func background(c *cluster, conc int, hot []uint64, freshBase uint64, stop <-chan struct{}, maxN int) []bgResult {
	addrs, clients := clientsFor(c, conc)
	var mu sync.Mutex
	var out []bgResult
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(next.Add(1) - 1)
				if i >= maxN {
					return
				}
				obj := hot[i%len(hot)]
				if i%4 == 3 {
					obj = freshBase + uint64(i)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				e := i % len(addrs)
				r := fetchObject(ctx, clients[e], addrs[e], obj, buf)
				cancel()
				mu.Lock()
				out = append(out, bgResult{time.Now(), r})
				mu.Unlock()
				time.Sleep(time.Millisecond) // about 1k req/s per worker at most
			}
		})
	}
	wg.Wait()
	return out
}

// runSlowOrigin is part 3c (and two extra checks): one object's first
// byte comes after 30 s; the edge must answer 504 within about the 2 s
// upstream timeout while other requests go on.
func runSlowOrigin(c *cluster, o options, hot []uint64) error {
	const slowObj = 3_000_001
	slowPath := fmt.Sprintf("%s%d", objPrefix, slowObj)
	c.origin.Slow(slowPath, 30*time.Second)
	fmt.Printf("\n== 3c. slow origin: %s answers after 30 s; upstream timeout 2s; background load meanwhile (8 clients, 3 of 4 requests hits, 1 of 4 fresh objects)\n", slowPath)
	stop := make(chan struct{})
	var bg []bgResult
	bgDone := make(chan struct{})
	go func() { bg = background(c, 8, hot, 3_100_000, stop, 100_000); close(bgDone) }()
	time.Sleep(300 * time.Millisecond)
	cl := newClient(1)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	t0 := time.Now()
	r := fetchObject(ctx, cl, c.edges[0].node.Listen, slowObj, make([]byte, 64<<10))
	t1 := time.Now()
	cancel()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-bgDone
	var during []time.Duration
	var bgErr, bgFresh, bgOK int
	for _, b := range bg {
		if b.end.Before(t0) || b.end.After(t1) {
			continue
		}
		if b.r.code != 200 || b.r.err != nil {
			bgErr++
			if b.r.corrupt {
				corrupt++
			}
			continue
		}
		bgOK++
		if strings.Contains(b.r.cacheStatus, "fwd=miss") {
			bgFresh++
		}
		during = append(during, b.r.dur)
	}
	fmt.Printf("  slow request via edge-a: %d in %s, Tern-Error %q, body %q, Cache-Status %q\n", r.code, r.dur.Round(time.Millisecond),
		r.ternError, strings.TrimSpace(r.body), r.cacheStatus)
	fmt.Printf("  origin requests for %s: %d\n", slowPath, c.origin.Count(slowPath))
	fmt.Printf("  meanwhile (%s): %d other requests answered 200 (%d of them misses fetched from the origin), %d errors; p50 %s p99 %s max %s\n",
		t1.Sub(t0).Round(time.Millisecond), bgOK, bgFresh, bgErr, ms(pct(during, 50)), ms(pct(during, 99)), ms(pct(during, 100)))
	add("3c slow origin", "slow object → status, time", fmt.Sprintf("%d in %s", r.code, r.dur.Round(time.Millisecond)), fmt.Sprintf("target 504 in 2–3 s; origin asked %d times", c.origin.Count(slowPath)))
	add("3c slow origin", "other requests meanwhile", fmt.Sprintf("%d ok (%d misses), %d errors", bgOK, bgFresh, bgErr), fmt.Sprintf("p99 %s, max %s", ms(pct(during, 99)), ms(pct(during, 100))))
	if r.code != http.StatusGatewayTimeout || r.dur > 3*time.Second {
		problems = append(problems, fmt.Sprintf("slow origin: %d after %s", r.code, r.dur))
	}

	// 3d: an origin slower than a third of the timeout but well within it.
	fmt.Println("\n== 3d. origin first byte after 1 s (< upstream timeout 2s), 12 fresh objects, one request each, 4 per edge, at once")
	const slow1 = 3_200_000
	for i := range 12 {
		c.origin.Slow(fmt.Sprintf("%s%d", objPrefix, slow1+i), time.Second)
	}
	before, err := scrapeAll(c.edgeAdmins())
	if err != nil {
		return err
	}
	res := make([]result, 12)
	var wg sync.WaitGroup
	addrs, clients := clientsFor(c, 4)
	for i := range 12 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res[i] = fetchObject(ctx, clients[i%3], addrs[i%3], uint64(slow1+i), make([]byte, 64<<10))
		})
	}
	wg.Wait()
	after, err := scrapeAll(c.edgeAdmins())
	if err != nil {
		return err
	}
	codes := map[int]int{}
	var durs []time.Duration
	for _, r := range res {
		codes[r.code]++
		durs = append(durs, r.dur)
		if r.corrupt {
			corrupt++
		}
	}
	originReqs := 0
	for i := range 12 {
		originReqs += c.origin.Count(fmt.Sprintf("%s%d", objPrefix, slow1+i))
	}
	d := func(name string, labels ...string) float64 {
		return sumAll(after, name, labels...) - sumAll(before, name, labels...)
	}
	fmt.Printf("  status: %s; time p50 %s max %s; origin requests %d for 12 objects\n", codeString(codes), ms(pct(durs, 50)), ms(pct(durs, 100)), originReqs)
	fmt.Printf("  edges: shield attempts ok %.0f, failover %.0f, error %.0f; direct to origin ok %.0f, error %.0f\n",
		d("tern_upstream_requests_total", "pool=shields", "result=ok"), d("tern_upstream_requests_total", "pool=shields", "result=failover"),
		d("tern_upstream_requests_total", "pool=shields", "result=error"),
		d("tern_upstream_requests_total", "pool=site-bench", "result=ok"), d("tern_upstream_requests_total", "pool=site-bench", "result=error"))
	// The same objects again, after the shields' own fetches finished.
	time.Sleep(1500 * time.Millisecond)
	codes2 := map[int]int{}
	for i := range 12 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r := fetchObject(ctx, clients[(i+1)%3], addrs[(i+1)%3], uint64(slow1+i), make([]byte, 64<<10))
			res[i] = r
		})
	}
	wg.Wait()
	for _, r := range res {
		codes2[r.code]++
	}
	fmt.Printf("  1.5 s later, the same objects through other edges: %s\n", codeString(codes2))
	add("3d origin TTFB 1s", "12 fresh objects at once", codeString(codes), fmt.Sprintf("max %s; origin asked %d times for 12 objects", ms(pct(durs, 100)), originReqs))
	add("3d origin TTFB 1s", "same objects 1.5 s later", codeString(codes2), "")
	return nil
}

func codeString(codes map[int]int) string {
	st := loadStats{codes: codes}
	return st.codesString()
}

// homeShield is the shield an object's key ranks first.
func homeShield(n uint64) string {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s%s%d", siteHost, objPrefix, n), nil)
	return origin.Rank(origin.RequestKey(req), []*origin.Upstream{{Name: "shield-1"}, {Name: "shield-2"}})[0].Name
}

// movedObjects are objects of the 3a run homed on shield-1 that were
// requested only while it was down (so only shield-2 and the edges that
// asked hold them; shield-1 has been rebuilt empty since), each with an
// edge that never asked for it. At most max.
func movedObjects(k killRun, hot map[uint64]bool, max int) (objs []uint64, edges []int) {
	first, last := map[uint64]int{}, map[uint64]int{}
	askedBy := map[uint64][3]bool{}
	for i, n := range k.seq {
		if _, ok := first[n]; !ok {
			first[n] = i
		}
		last[n] = i
		a := askedBy[n]
		a[i%3] = true
		askedBy[n] = a
	}
	// A margin after the kill: requests already on shield-1's connection
	// when it stopped were still answered by it.
	margin := (k.restartAt - k.killAt) / 20
	for i := k.killAt + margin; i < k.restartAt && len(objs) < max; i++ {
		n := k.seq[i]
		if first[n] != i || last[n] >= k.restartAt || hot[n] || homeShield(n) != "shield-1" {
			continue
		}
		for e, asked := range askedBy[n] {
			if !asked {
				objs, edges = append(objs, n), append(edges, e)
				break
			}
		}
	}
	return objs, edges
}

// runOriginDown is part 3b: the origin's server is closed; objects the
// edges or shields hold are still served fresh, a never-seen object gets
// a 502 or 504 with a clear body.
func runOriginDown(c *cluster, o options, hotList []uint64, k killRun) error {
	fmt.Println("\n== 3b. origin down")
	a, b, cc := c.edges[0].node.Listen, c.edges[1].node.Listen, c.edges[2].node.Listen
	hotSet := map[uint64]bool{}
	for _, n := range hotList {
		hotSet[n] = true
	}
	// Edge hits: 300 hot objects, fetched through edge-a first.
	hot := hotList[:min(300, len(hotList))]
	var shieldOnly []uint64
	for i := range 300 {
		shieldOnly = append(shieldOnly, 4_000_000+uint64(i))
	}
	var never []uint64
	for i := range 50 {
		never = append(never, 5_000_000+uint64(i))
	}
	moved, movedEdge := movedObjects(k, hotSet, 100)
	one := func(addr string, objs []uint64, conc int) loadStats {
		return runLoad([]string{addr}, []*http.Client{newClient(conc)}, objs, loadOpts{conc: conc})
	}
	if st := one(a, hot, 8); st.errors > 0 {
		return fmt.Errorf("warming edge-a: %d errors: %v", st.errors, st.samples)
	}
	// One at a time, so that a shield still half-open after 3e/3f gets each
	// of its keys (concurrent ones would go to the other shield).
	if st := one(a, shieldOnly, 1); st.errors > 0 {
		return fmt.Errorf("warming the shields: %d errors: %v", st.errors, st.samples)
	}
	c.origin.Stop()
	hits := one(a, hot, 8)
	viaShield := one(b, shieldOnly, 8)
	// Never-seen objects, one at a time, keeping one body.
	cl := newClient(1)
	buf := make([]byte, 64<<10)
	codes := map[int]int{}
	var durs []time.Duration
	var sample result
	samples := map[int]result{} // the first of each status
	for _, n := range never {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := fetchObject(ctx, cl, cc, n, buf)
		cancel()
		codes[r.code]++
		durs = append(durs, r.dur)
		if sample.code == 0 && r.code != 0 {
			sample = r
		}
		if _, ok := samples[r.code]; !ok {
			samples[r.code] = r
		}
	}
	// Moved objects, through an edge that does not have them.
	addrs, clients := clientsFor(c, 1)
	movedCodes := map[int]int{}
	var movedSample result
	for i, n := range moved {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := fetchObject(ctx, clients[movedEdge[i]], addrs[movedEdge[i]], n, buf)
		cancel()
		movedCodes[r.code]++
		if r.corrupt {
			corrupt++
		}
		if r.code != 200 && movedSample.code == 0 {
			movedSample = r
		}
	}
	s2, err := scrape(c.shields["shield-2"].node.Admin)
	if err != nil {
		return err
	}
	corrupt += hits.corrupt + viaShield.corrupt
	fmt.Printf("  (i) edge hits via edge-a: %d/%d ok (%s)\n", hits.ok, hits.requests, hits.codesString())
	fmt.Printf("  (ii) edge misses held by their home shield, via edge-b: %d/%d ok (%s)\n", viaShield.ok, viaShield.requests, viaShield.codesString())
	for _, s := range append(hits.samples, viaShield.samples...) {
		fmt.Println("    error:", s)
	}
	fmt.Printf("  (iii) never-seen objects via edge-c: %s; time p50 %s max %s\n", codeString(codes), ms(pct(durs, 50)), ms(pct(durs, 100)))
	for _, code := range slices.Sorted(maps.Keys(samples)) {
		r := samples[code]
		fmt.Printf("    e.g. %d, Tern-Error %q, Cache-Status %q, body %q, err %v\n", r.code, r.ternError, r.cacheStatus, strings.TrimSpace(r.body), r.err)
	}
	fmt.Printf("  (iv) %d objects homed on shield-1 but fetched only while it was down in 3a (held by shield-2, not by shield-1, rebuilt since), via an edge without them: %s\n",
		len(moved), codeString(movedCodes))
	if movedSample.code != 0 {
		fmt.Printf("    e.g. %d, Cache-Status %q, body %q\n", movedSample.code, movedSample.cacheStatus, strings.TrimSpace(movedSample.body))
	}
	fmt.Printf("    shield-2 has answered %.0f hits in all\n", s2.sum("tern_edge_requests_total", "cache=hit"))
	add("3b origin down", "(i) fresh edge hits", fmt.Sprintf("%d/%d ok", hits.ok, hits.requests), hits.codesString())
	add("3b origin down", "(ii) fresh home-shield hits (edge miss)", fmt.Sprintf("%d/%d ok", viaShield.ok, viaShield.requests), viaShield.codesString())
	add("3b origin down", "(iii) never-seen objects", codeString(codes), fmt.Sprintf("max %s; body %q", ms(pct(durs, 100)), strings.TrimSpace(sample.body)))
	add("3b origin down", "(iv) objects only the other shield holds", codeString(movedCodes), "ideal 200: shield-2 holds them, edges skip it after the home shield's upstream-error")
	if hits.ok != hits.requests || viaShield.ok != viaShield.requests {
		problems = append(problems, "origin down: a fresh object was not served")
	}
	for code := range codes {
		if code != http.StatusBadGateway && code != http.StatusGatewayTimeout {
			problems = append(problems, fmt.Sprintf("origin down: a never-seen object got %d", code))
		}
	}
	if movedCodes[200] != len(moved) {
		problems = append(problems, fmt.Sprintf("origin down: %d of %d objects held only by the other shield were not served", len(moved)-movedCodes[200], len(moved)))
	}
	return nil
}

// blackHole accepts TCP connections and reads them, never answering: a
// hung process whose kernel still completes the handshake.
type blackHole struct {
	mu    sync.Mutex
	lns   []net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

func startBlackHole(addrs ...string) (*blackHole, error) {
	b := &blackHole{}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.lns = append(b.lns, ln)
		b.wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				b.mu.Lock()
				b.conns = append(b.conns, c)
				b.mu.Unlock()
				b.wg.Go(func() { io.Copy(io.Discard, c) })
			}
		})
	}
	return b, nil
}

func (b *blackHole) Close() {
	b.mu.Lock()
	for _, ln := range b.lns {
		ln.Close()
	}
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// stuckShield speaks HTTP/1.1 and h2c on a shield's listen address but
// never answers a request (a shield whose handlers are blocked), while
// its admin address answers /healthz: a process alive but not working.
type stuckShield struct {
	traffic, admin *http.Server
	wg             sync.WaitGroup
}

func startStuckShield(listen, admin string) (*stuckShield, error) {
	ln1, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	ln2, err := net.Listen("tcp", admin)
	if err != nil {
		ln1.Close()
		return nil, err
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	s := &stuckShield{
		traffic: &http.Server{Protocols: p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := time.NewTimer(30 * time.Second)
			defer t.Stop()
			select {
			case <-r.Context().Done():
			case <-t.C:
			}
		})},
		admin: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok\n")
		})},
	}
	s.wg.Go(func() { s.traffic.Serve(ln1) })
	s.wg.Go(func() { s.admin.Serve(ln2) })
	return s, nil
}

func (s *stuckShield) Close() {
	s.traffic.Close()
	s.admin.Close()
	s.wg.Wait()
}

// runHungShield is part 3e (stuck false) and 3f (stuck true). 3e: shield-1
// is replaced by a black hole on its listen and admin addresses
// (connections accepted, nothing answered: a hung process or host). 3f:
// by a server that speaks HTTP/2 and answers /healthz but never answers a
// request (a process alive but not working). Fresh objects, so every
// request is an edge miss, half of them homed on the hung shield.
func runHungShield(c *cluster, o options, stuck bool) error {
	const victim = "shield-1"
	n, rate, base, part := 3000, 1000.0, uint64(6_000_000), "3e hung shield"
	what := "its addresses accept connections and never answer"
	if stuck {
		n, rate, base, part = 1500, 500.0, 7_000_000, "3f stuck shield"
		what = "its listener speaks h2c but never answers a request; its admin /healthz answers ok"
	}
	old := c.shields[victim]
	fmt.Printf("\n== %s. %s: %s; %d fresh objects (all edge misses) at %.0f req/s, %d clients\n",
		part[:2], victim, what, n, rate, o.conc)
	if err := stopNode(old); err != nil {
		return fmt.Errorf("stopping %s: %w", victim, err)
	}
	var bh interface{ Close() }
	var err error
	if stuck {
		bh, err = startStuckShield(old.node.Listen, old.node.Admin)
	} else {
		bh, err = startBlackHole(old.node.Listen, old.node.Admin)
	}
	if err != nil {
		return fmt.Errorf("fake %s on its addresses: %w", victim, err)
	}
	seq := make([]uint64, n)
	for i := range seq {
		seq[i] = base + uint64(i)
		expect(seq[i])
	}
	addrs, clients := clientsFor(c, o.conc)
	before, err := scrapeAll(c.edgeAdmins())
	if err != nil {
		bh.Close()
		return err
	}
	var downAt atomic.Int64
	start := time.Now()
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for range 400 { // at most 10 s
			if allEdges(c, victim, func(u origin.UpstreamStatus) bool { return !u.Healthy }) {
				downAt.Store(int64(time.Since(start)))
				return
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	st := runLoad(addrs, clients, seq, loadOpts{conc: o.conc, rate: rate})
	close(stopWatch)
	<-watchDone
	after, err := scrapeAll(c.edgeAdmins())
	bh.Close()
	if err != nil {
		return err
	}
	corrupt += st.corrupt
	slow := 0
	for _, d := range st.durs {
		if d > 200*time.Millisecond {
			slow++
		}
	}
	d := func(name string, labels ...string) float64 {
		return sumAll(after, name, labels...) - sumAll(before, name, labels...)
	}
	down := "never during the run"
	if v := downAt.Load(); v != 0 {
		down = time.Duration(v).Round(time.Millisecond).String()
	}
	durs := append([]time.Duration(nil), st.durs...)
	fmt.Printf("  client: %d ok, %d errors (%s), %d wrong bodies; latency p50 %s p99 %s max %s; %d requests over 200 ms\n",
		st.ok, st.errors, st.codesString(), st.corrupt, ms(pct(durs, 50)), ms(pct(durs, 99)), ms(pct(durs, 100)), slow)
	for _, s := range st.samples {
		fmt.Println("    error:", s)
	}
	fmt.Printf("  edges: %s ok %.0f failover %.0f error %.0f; shield-2 ok %.0f; direct to origin %.0f; every edge's /status says %s unhealthy at %s\n",
		victim, d("tern_upstream_requests_total", "upstream="+victim, "result=ok"), d("tern_upstream_requests_total", "upstream="+victim, "result=failover"),
		d("tern_upstream_requests_total", "upstream="+victim, "result=error"), d("tern_upstream_requests_total", "upstream=shield-2", "result=ok"),
		d("tern_upstream_requests_total", "pool=site-bench"), victim, down)
	add(part, "client errors", fmt.Sprintf("%d of %d", st.errors, st.requests), st.codesString())
	add(part, "latency p50 / p99 / max", fmt.Sprintf("%s / %s / %s", ms(pct(durs, 50)), ms(pct(durs, 99)), ms(pct(durs, 100))),
		fmt.Sprintf("%d requests over 200 ms; %.0f failovers from %s; unhealthy at %s", slow, d("tern_upstream_requests_total", "upstream="+victim, "result=failover"), victim, down))

	// Bring the shield back for part 3b.
	rn, err := c.startNode(old.ref)
	if err != nil {
		return fmt.Errorf("restarting %s: %w", victim, err)
	}
	c.shields[victim] = rn
	// Wait until every edge has it back: healthy, and its passive state
	// cleared by one answered request (a half-open shield takes one
	// request at a time, and concurrent ones go to the other shield).
	obj := base + 500_000
	buf := make([]byte, 64<<10)
	for e, admin := range c.edgeAdmins() {
		for range 100 { // at most about 10 s
			u, err := shieldStatus(admin, victim)
			if err == nil && u.Available && u.ConsecutiveFails == 0 {
				break
			}
			if err == nil && u.Available {
				for homeShield(obj) != victim {
					obj++
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				fetchObject(ctx, clients[e], addrs[e], obj, buf)
				cancel()
				obj++
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}
