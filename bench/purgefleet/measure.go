package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/client"
)

// latencyHistograms is every cache node's accept→applied histogram.
func latencyHistograms(ctx context.Context, f *fleet) (map[string]buckets, error) {
	h := map[string]buckets{}
	for _, n := range f.caches() {
		m, err := scrape(ctx, n.admin)
		if err != nil {
			return nil, err
		}
		h[n.name] = m.buckets()
	}
	return h, nil
}

// waitComplete polls a purge's status every millisecond, for at most 30 s.
func waitComplete(ctx context.Context, c *client.Client, id string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.Status(ctx, id)
		if err != nil {
			return err
		}
		if st.Complete {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("purge %s not complete in 30 s", id)
}

// measureLatency sends purges one at a time, each after the last is
// complete, and reports the nodes' histograms and the client's view.
func measureLatency(ctx context.Context, f *fleet, c *client.Client, n int) error {
	before, err := latencyHistograms(ctx, f)
	if err != nil {
		return err
	}
	var accept, complete []time.Duration
	for i := range n {
		t0 := time.Now()
		acc, err := c.Purge(ctx, purge.Purge{Site: "bench", Files: []string{fmt.Sprintf("/lat/%d", i)}}, "")
		if err != nil {
			return fmt.Errorf("latency purge %d: %w", i, err)
		}
		accept = append(accept, time.Since(t0))
		if err := waitComplete(ctx, c, acc.ID); err != nil {
			return err
		}
		complete = append(complete, time.Since(t0))
	}
	after, err := latencyHistograms(ctx, f)
	if err != nil {
		return err
	}
	all := buckets{}
	worstName, worst := "", 0.0
	for name, b := range after {
		d := b.minus(before[name])
		all.add(d)
		if p := d.quantile(.99); p > worst {
			worstName, worst = name, p
		}
	}
	fmt.Printf("\n(a) latency, %d purges one at a time, %d nodes\n", n, len(after))
	fmt.Printf("  accept→applied per node (nodes' histograms, all nodes together): p50 %.2f ms, p99 %.2f ms; worst node p99 %.2f ms (%s)\n",
		all.quantile(.5)*1000, all.quantile(.99)*1000, worst*1000, worstName)
	fmt.Printf("  client: POST answered (202) p50 %s p99 %s; POST sent→status complete on every node p50 %s p99 %s\n",
		ms(percentile(accept, .5)), ms(percentile(accept, .99)), ms(percentile(complete, .5)), ms(percentile(complete, .99)))
	return nil
}

// lagSample is the fleet's consumer lag at one moment.
type lagSample struct {
	total, worst float64
}

func fleetLag(ctx context.Context, f *fleet) (lagSample, error) {
	var s lagSample
	for _, n := range f.caches() {
		m, err := scrape(ctx, n.admin)
		if err != nil {
			return s, err
		}
		l := m.first("tern_purge_consumer_lag")
		s.total += l
		s.worst = max(s.worst, l)
	}
	return s, nil
}

// measureRates publishes at each rate for d through 64 concurrent API
// callers, sampling every node's lag gauge every 250 ms, then waits (at
// most 10 s) for the lag to drain.
func measureRates(ctx context.Context, f *fleet, c *client.Client, rates []int, d time.Duration) error {
	fmt.Printf("\n(b) rate: %v per run, 64 API callers, lag = tern_purge_consumer_lag of every cache node\n", d)
	fmt.Println("  target/s  sent/s  errors  worst lag (max node, during run: first half → second half)  lag at end  drained in")
	for _, rate := range rates {
		if err := rateRun(ctx, f, c, rate, d); err != nil {
			return err
		}
	}
	return nil
}

func rateRun(ctx context.Context, f *fleet, c *client.Client, rate int, d time.Duration) error {
	jobs := make(chan int, 1024)
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				_, err := c.Purge(ctx, purge.Purge{Site: "bench", Files: []string{fmt.Sprintf("/rate/%d/%d", rate, i)}}, "")
				if err != nil {
					failed.Add(1)
					continue
				}
				sent.Add(1)
			}
		}()
	}
	stopSampling := make(chan struct{})
	var firstHalf, secondHalf float64
	var sampleErr error
	sampled := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(sampled)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
			s, err := fleetLag(ctx, f)
			if err != nil {
				sampleErr = err
				return
			}
			if time.Since(start) < d/2 {
				firstHalf = max(firstHalf, s.worst)
			} else {
				secondHalf = max(secondHalf, s.worst)
			}
		}
	}()
	// Pace by the clock: every 5 ms, queue the purges due by now.
	queued := 0
	total := int(float64(rate) * d.Seconds())
	for queued < total {
		due := min(total, int(time.Since(start).Seconds()*float64(rate)))
		for ; queued < due; queued++ {
			jobs <- queued
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	close(stopSampling)
	<-sampled
	if sampleErr != nil {
		return sampleErr
	}
	end, err := fleetLag(ctx, f)
	if err != nil {
		return err
	}
	drain := "no (10 s)"
	t0 := time.Now()
	for time.Since(t0) < 10*time.Second {
		s, err := fleetLag(ctx, f)
		if err != nil {
			return err
		}
		if s.total == 0 {
			drain = time.Since(t0).Round(time.Millisecond).String()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("  %8d  %6.0f  %6d  %6.0f → %-6.0f  %10.0f  %s\n", rate, float64(sent.Load())/elapsed.Seconds(), failed.Load(),
		firstHalf, secondHalf, end.worst, drain)
	return nil
}

// get fetches one path of the site from an edge.
func get(ctx context.Context, hc *http.Client, edge, path string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+edge+path, nil)
	req.Host = siteHost
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return nil
}

// fill requests /bulk/0 … /bulk/n-1 from an edge through 16 callers.
func fill(ctx context.Context, edge string, n int) error {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	jobs := make(chan int, 256)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := get(ctx, hc, edge, fmt.Sprintf("/bulk/%d", i)); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return fmt.Errorf("filling %s: %w", edge, err)
	}
	return nil
}

// memory is a node's RSS (from /proc) and Go heap in use (from /metrics).
func memory(ctx context.Context, n *node) (string, error) {
	r, err := rss(n.cmd.Process.Pid)
	if err != nil {
		return "", err
	}
	m, err := scrape(ctx, n.admin)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("RSS %s, heap in use %s", mib(float64(r)), mib(m.first("go_memstats_heap_inuse_bytes"))), nil
}

// measureTagPurge fills edge-1 (and so its shields) with n objects of one
// tag, then times one tag purge of them until applied on every node, and
// checks that a sample of them is a miss afterwards.
func measureTagPurge(ctx context.Context, f *fleet, c *client.Client, orig *origin, n int) error {
	edge := f.byName("edge-1")
	t0 := time.Now()
	if err := fill(ctx, edgeAddr(0)+":8080", n); err != nil {
		return err
	}
	fmt.Printf("\n(c) tag purge: %d objects tagged \"bulk\" filled through edge-1 in %v (%d origin requests so far)\n",
		n, time.Since(t0).Round(time.Millisecond), orig.requests.Load())
	before, err := memory(ctx, edge)
	if err != nil {
		return err
	}
	hBefore, err := latencyHistograms(ctx, f)
	if err != nil {
		return err
	}
	t0 = time.Now()
	acc, err := c.Purge(ctx, purge.Purge{Site: "bench", Tags: []string{"bulk"}}, "")
	if err != nil {
		return fmt.Errorf("tag purge: %w", err)
	}
	if err := waitComplete(ctx, c, acc.ID); err != nil {
		return err
	}
	took := time.Since(t0)
	hAfter, err := latencyHistograms(ctx, f)
	if err != nil {
		return err
	}
	after, err := memory(ctx, edge)
	if err != nil {
		return err
	}
	onEdge := hAfter["edge-1"].minus(hBefore["edge-1"])
	fmt.Printf("  POST→complete on every node: %v; edge-1's accept→applied (histogram bucket, upper bound): ≤ %.0f ms\n",
		took.Round(time.Millisecond), upperBound(onEdge)*1000)
	fmt.Printf("  edge-1 before the purge: %s\n  edge-1 after the purge:  %s\n", before, after)
	// A sample must now be misses: each one reaches the origin.
	reqs := orig.requests.Load()
	hc := &http.Client{Timeout: 10 * time.Second}
	const sample = 100
	for i := range sample {
		if err := get(ctx, hc, edgeAddr(0)+":8080", fmt.Sprintf("/bulk/%d", i*(n/sample))); err != nil {
			return err
		}
	}
	fmt.Printf("  %d sampled objects after the purge: %d origin requests (want %d)\n", sample, orig.requests.Load()-reqs, sample)
	return nil
}

// upperBound is the smallest bucket bound holding every observation.
func upperBound(b buckets) float64 {
	total := 0.0
	for _, v := range b {
		total = max(total, v)
	}
	best := 0.0
	for k, v := range b {
		if v == total && total > 0 && (best == 0 || k < best) {
			best = k
		}
	}
	return best
}

// measureRSS starts one edge alone, with and without a purge section (and
// then a purge node), warms 1,000 objects, and reads its RSS and heap.
func measureRSS(ctx context.Context, tern, tmp string, reps int) error {
	fmt.Println("\n(d) RSS of one edge (no shield), after ready and 1,000 objects; with purge = a consumer on purge-1's NATS")
	for rep := range reps {
		for _, withPurge := range []bool{false, true} {
			f, err := newFleet(tern, filepath.Join(tmp, fmt.Sprintf("rss-%d-%v", rep, withPurge)), 0, 1, withPurge)
			if err != nil {
				return err
			}
			if err := f.start(ctx); err != nil {
				f.stop()
				return err
			}
			err = fill(ctx, edgeAddr(0)+":8080", 1000)
			var m string
			if err == nil {
				time.Sleep(time.Second) // let the process settle before reading its memory
				m, err = memory(ctx, f.byName("edge-1"))
			}
			f.stop()
			if err != nil {
				return err
			}
			fmt.Printf("  run %d, purge %-5v: %s\n", rep+1, withPurge, m)
		}
	}
	return nil
}
