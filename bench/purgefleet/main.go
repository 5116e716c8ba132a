// Command purgefleet measures purge across a fleet of separate processes
// on loopback: it builds tern, writes a topology with a purge node
// (embedded NATS), two shields and ten edges on 127.0.x.1 addresses and a
// site whose origin is this program, starts each node as `tern run --node
// NAME`, waits for every /readyz, then measures (a) accept→applied
// latency, one purge at a time; (b) the purge rate the fleet keeps up
// with; (c) a tag purge of 100,000 objects on one edge; (d) the RSS an
// edge gains from the purge consumer. Every child dies with this program
// (SIGTERM on the way out, Pdeathsig if it is killed).
//
//	go run ./bench/purgefleet                      # about two minutes
//	go run ./bench/purgefleet -purges 100 -rates 500,1000 -objects 10000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tern-cdn/tern/purge/client"
)

type options struct {
	tern     string
	shields  int
	edges    int
	purges   int
	rates    []int
	duration time.Duration
	objects  int
	rssReps  int
}

func main() {
	var o options
	var rates string
	flag.StringVar(&o.tern, "tern", "", "tern binary (default: go build ./cmd/tern into a temp dir)")
	flag.IntVar(&o.shields, "shields", 2, "shields")
	flag.IntVar(&o.edges, "edges", 10, "edges")
	flag.IntVar(&o.purges, "purges", 200, "purges of the latency run, one at a time")
	flag.StringVar(&rates, "rates", "250,500,1000,1500,2000", "purges per second of the rate runs")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "length of each rate run")
	flag.IntVar(&o.objects, "objects", 100000, "tagged objects of the tag purge")
	flag.IntVar(&o.rssReps, "rss-reps", 2, "runs of the RSS comparison, each with and without purge")
	flag.Parse()
	for _, r := range strings.Split(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil {
			fmt.Fprintln(os.Stderr, "purgefleet: -rates:", err)
			os.Exit(2)
		}
		o.rates = append(o.rates, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "purgefleet:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "purgefleet-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if o.tern == "" {
		o.tern = filepath.Join(tmp, "tern")
		build := exec.CommandContext(ctx, "go", "build", "-o", o.tern, "./cmd/tern")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building tern: %w", err)
		}
	}
	orig, err := startOrigin()
	if err != nil {
		return err
	}
	defer orig.srv.Close()

	f, err := newFleet(o.tern, filepath.Join(tmp, "fleet"), o.shields, o.edges, true)
	if err != nil {
		return err
	}
	defer f.stop()
	t0 := time.Now()
	if err := f.start(ctx); err != nil {
		return err
	}
	fmt.Printf("fleet: purge-1, %d shields, %d edges ready in %v\n", o.shields, o.edges, time.Since(t0).Round(time.Millisecond))
	c := &client.Client{API: "http://" + purgeAPI, Token: benchToken, HTTP: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256},
	}}
	if err := measureLatency(ctx, f, c, o.purges); err != nil {
		return err
	}
	if err := measureRates(ctx, f, c, o.rates, o.duration); err != nil {
		return err
	}
	if err := measureTagPurge(ctx, f, c, orig, o.objects); err != nil {
		return err
	}
	f.stop()
	return measureRSS(ctx, o.tern, tmp, o.rssReps)
}

// origin is the site's origin: any path answers a small cacheable body;
// /bulk/* carries the surrogate key "bulk".
type origin struct {
	srv      *http.Server
	requests atomic.Int64
}

func startOrigin() (*origin, error) {
	ln, err := net.Listen("tcp", originAddr)
	if err != nil {
		return nil, fmt.Errorf("origin listen: %w", err)
	}
	o := &origin{}
	o.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if strings.HasPrefix(r.URL.Path, "/bulk/") {
			w.Header().Set("Surrogate-Key", "bulk")
		}
		io.WriteString(w, "object "+r.URL.Path+"\n")
	})}
	go o.srv.Serve(ln)
	return o, nil
}
