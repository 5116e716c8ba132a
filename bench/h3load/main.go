// Command h3load is the HTTP/3 load client of bench/sidebyside.sh (wrk and
// h2load have no HTTP/3): -c QUIC connections, each with -m requests in
// flight, GET the same URL for -d, and every response is checked: its
// status, its body's byte count and, with -hit-header, that a field
// contains a marker (Tern's Cache-Status says "hit"). It prints
//
//	requests 123456
//	errors 0
//	req/s 12345.6
//	p50 1.234ms
//	p99 5.678ms
//
// and the first few errors, and exits 1 if any request failed.
//
//	h3load -c 4 -m 8 -d 10s -connect-to 127.0.0.1:18443 -insecure \
//	  -size 1024 -hit-header Cache-Status -hit-marker hit https://bench.test/1KiB.bin
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// Config is one load run.
type Config struct {
	URL       string
	ConnectTo string        // host:port dialled instead of the URL's; the URL's host stays the SNI and :authority
	Conns     int           // QUIC connections
	Streams   int           // requests in flight on each connection
	Duration  time.Duration // how long requests are started
	Insecure  bool          // skip certificate verification
	Want      Want
}

// Want is what every response must be.
type Want struct {
	Status int    // default 200
	Size   int64  // body bytes; -1: any
	Header string // a field that must contain Marker; "" skips the check
	Marker string // case-insensitive substring of Header's value
}

// Result is what a run measured.
type Result struct {
	Requests int64         // completed and correct
	Errors   int64         // failed or wrong
	Elapsed  time.Duration // from the first request to the last answer
	P50, P99 time.Duration // latency of the correct requests
	First    []string      // the first few error messages
}

// Check reports whether resp, whose body was n bytes, is what w wants.
func (w Want) Check(resp *http.Response, n int64) error {
	status := w.Status
	if status == 0 {
		status = http.StatusOK
	}
	if resp.StatusCode != status {
		return fmt.Errorf("status %d, want %d", resp.StatusCode, status)
	}
	if w.Size >= 0 && n != w.Size {
		return fmt.Errorf("%d body bytes, want %d", n, w.Size)
	}
	if w.Header != "" {
		v := strings.Join(resp.Header.Values(w.Header), ", ")
		if !strings.Contains(strings.ToLower(v), strings.ToLower(w.Marker)) {
			return fmt.Errorf("%s %q does not contain %q", w.Header, v, w.Marker)
		}
	}
	return nil
}

// Run sends requests as cfg says until its duration is over and every
// request in flight has been answered (each is bounded by 10 s).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Conns < 1 || cfg.Streams < 1 {
		return Result{}, errors.New("connections and streams must be at least 1")
	}
	type worker struct {
		lat   []time.Duration
		errs  int64
		first []string
	}
	workers := make([]worker, cfg.Conns*cfg.Streams)
	transports := make([]*http3.Transport, cfg.Conns)
	for i := range transports {
		tr := &http3.Transport{
			TLSClientConfig:    &tls.Config{InsecureSkipVerify: cfg.Insecure},
			QUICConfig:         &quic.Config{MaxIncomingStreams: int64(cfg.Streams) + 16},
			DisableCompression: true,
		}
		if cfg.ConnectTo != "" {
			to := cfg.ConnectTo
			tr.Dial = func(ctx context.Context, _ string, tlsCfg *tls.Config, qcfg *quic.Config) (*quic.Conn, error) {
				return quic.DialAddrEarly(ctx, to, tlsCfg, qcfg)
			}
		}
		transports[i] = tr
		defer tr.Close()
	}
	// One request first per connection, so the handshakes are not timed.
	for _, tr := range transports {
		if err := get(ctx, tr, cfg.URL, cfg.Want); err != nil {
			return Result{}, fmt.Errorf("first request: %w", err)
		}
	}
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func(w *worker, tr *http3.Transport) {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				if err := get(ctx, tr, cfg.URL, cfg.Want); err != nil {
					w.errs++
					if len(w.first) < 3 {
						w.first = append(w.first, err.Error())
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
			}
		}(&workers[i], transports[i%cfg.Conns])
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start)}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Errors += w.errs
		for _, e := range w.first {
			if len(res.First) < 5 {
				res.First = append(res.First, e)
			}
		}
	}
	res.Requests = int64(len(all))
	if len(all) > 0 {
		slices.Sort(all)
		res.P50 = all[len(all)*50/100]
		res.P99 = all[min(len(all)-1, len(all)*99/100)]
	}
	return res, ctx.Err()
}

func get(ctx context.Context, tr *http3.Transport, url string, want Want) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("body after %d bytes: %w", n, err)
	}
	return want.Check(resp, n)
}

func main() {
	var cfg Config
	flag.IntVar(&cfg.Conns, "c", 4, "QUIC connections")
	flag.IntVar(&cfg.Streams, "m", 8, "requests in flight per connection")
	flag.DurationVar(&cfg.Duration, "d", 10*time.Second, "duration")
	flag.StringVar(&cfg.ConnectTo, "connect-to", "", "host:port to dial instead of the URL's host")
	flag.BoolVar(&cfg.Insecure, "insecure", false, "do not verify the server's certificate")
	flag.IntVar(&cfg.Want.Status, "status", 200, "expected status")
	flag.Int64Var(&cfg.Want.Size, "size", -1, "expected body bytes (-1: any)")
	flag.StringVar(&cfg.Want.Header, "hit-header", "", "response field that must contain -hit-marker")
	flag.StringVar(&cfg.Want.Marker, "hit-marker", "hit", "case-insensitive marker -hit-header must contain")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: h3load [flags] https://host/path")
		os.Exit(2)
	}
	cfg.URL = flag.Arg(0)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+30*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "h3load:", err)
		os.Exit(1)
	}
	fmt.Printf("requests %d\nerrors %d\nreq/s %.1f\np50 %s\np99 %s\n", res.Requests, res.Errors,
		float64(res.Requests)/res.Elapsed.Seconds(), res.P50, res.P99)
	for _, e := range res.First {
		fmt.Println("error:", e)
	}
	if res.Errors > 0 {
		os.Exit(1)
	}
}
