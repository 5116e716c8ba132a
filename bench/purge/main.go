// Command purge measures the purge path over an embedded NATS server on
// loopback: N in-process consumers (each an Applier on its own NATS
// connection, as separate nodes would have), a publisher at a set rate.
// It prints p50/p99 of the time from publish (the API's accept) to applied
// on every node, and, for rising rates, whether the consumers keep up
// (the lag at the end of the run drains within a second).
//
//	go run ./bench/purge -nodes 12 -latency-rate 200 -rates 500,1000,2000,4000 -duration 3s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/natsbus"
)

func main() {
	nodes := flag.Int("nodes", 12, "consumers (ten edges and two shields)")
	latencyRate := flag.Int("latency-rate", 200, "purges per second of the latency run")
	rates := flag.String("rates", "500,1000,2000,4000", "purge rates of the throughput runs")
	duration := flag.Duration("duration", 3*time.Second, "length of each run")
	flag.Parse()
	if err := run(*nodes, *latencyRate, *rates, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "bench/purge:", err)
		os.Exit(1)
	}
}

// latencies collects accept→applied times of every node.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) take() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.d
	l.d = nil
	return d
}

// node is a cache that only measures.
type node struct{ lat *latencies }

func (n node) Invalidate(_ context.Context, p purge.Purge) error {
	n.lat.add(time.Since(p.Accepted))
	return nil
}

func (n node) InvalidateAll(context.Context, time.Time) error { return nil }

func run(nodes, latencyRate int, rates string, duration time.Duration) error {
	dir, err := os.MkdirTemp("", "bench-purge-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := natsbus.StartServer(natsbus.ServerConfig{Name: "bench", Dir: dir, Host: "127.0.0.1", Port: -1})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pub, err := natsbus.Connect(natsbus.Config{URLs: []string{srv.ClientURL()}, Logger: quiet})
	if err != nil {
		return err
	}
	defer pub.Close()

	lat := &latencies{}
	var appliers []*purge.Applier
	for i := range nodes {
		b, err := natsbus.Connect(natsbus.Config{URLs: []string{srv.ClientURL()}, Logger: quiet})
		if err != nil {
			return err
		}
		defer b.Close()
		a, err := purge.NewApplier(purge.ApplierConfig{Node: fmt.Sprintf("node-%d", i), Bus: b, Cache: node{lat}, Logger: quiet})
		if err != nil {
			return err
		}
		if err := a.Start(context.Background()); err != nil {
			return err
		}
		defer a.Stop()
		appliers = append(appliers, a)
	}
	fmt.Printf("%d consumers, embedded NATS server on loopback, %s per run\n", nodes, duration)

	last, err := publishAt(pub, latencyRate, duration)
	if err != nil {
		return err
	}
	waitApplied(appliers, last, 10*time.Second)
	d := lat.take()
	fmt.Printf("latency run: %d purges/s: accept→applied over %d (purge, node) pairs: p50 %v p99 %v max %v\n",
		latencyRate, len(d), pct(d, 50), pct(d, 99), pct(d, 100))

	for _, s := range strings.Split(rates, ",") {
		rate, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("rate %q: %w", s, err)
		}
		before := minApplied(appliers)
		start := time.Now()
		last, err := publishAt(pub, rate, duration)
		if err != nil {
			return err
		}
		achieved := float64((last - before)) / time.Since(start).Seconds()
		lagAtEnd := last - minApplied(appliers)
		drained := waitApplied(appliers, last, time.Second)
		d := lat.take()
		fmt.Printf("rate %5d/s: published %.0f/s, lag at end %d, drained within 1s: %v, p50 %v p99 %v\n",
			rate, achieved, lagAtEnd, drained, pct(d, 50), pct(d, 99))
		if !drained {
			waitApplied(appliers, last, 60*time.Second)
			lat.take()
		}
	}
	return nil
}

// publishAt publishes at rate per second for d from 4 goroutines and
// returns the last sequence.
func publishAt(b *natsbus.Bus, rate int, d time.Duration) (uint64, error) {
	const workers = 4
	var mu sync.Mutex
	var last uint64
	var firstErr error
	var wg sync.WaitGroup
	per := time.Duration(float64(time.Second) * workers / float64(rate))
	end := time.Now().Add(d)
	for w := range workers {
		wg.Go(func() {
			next := time.Now().Add(time.Duration(w) * per / workers)
			for i := 0; time.Now().Before(end); i++ {
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				}
				next = next.Add(per)
				p := purge.Purge{ID: fmt.Sprintf("%d-%d", w, i), Site: "www", Files: []string{"/x"}, Accepted: time.Now()}
				pub, err := b.Publish(context.Background(), p, "")
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				last = max(last, pub.Seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return last, firstErr
}

func minApplied(as []*purge.Applier) uint64 {
	m := as[0].Applied()
	for _, a := range as[1:] {
		m = min(m, a.Applied())
	}
	return m
}

// waitApplied polls until every node applied seq or d passed.
func waitApplied(as []*purge.Applier, seq uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for minApplied(as) < seq {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))].Round(10 * time.Microsecond)
}
