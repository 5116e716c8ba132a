// Command offload measures what Tern's shield tier does for an origin and
// what it costs: origin offload for a Zipf workload over three edges with
// and without two shields, the latency of an edge hit against an edge
// miss answered by a shield, and behaviour under faults (a shield killed
// and restarted under load, the origin down, a slow origin).
//
//	go run ./bench/offload [-parts offload,latency,faults] [-requests 100000] [-objects 10000] [-c 16]
//
// Everything runs in this process on loopback: a net/http origin on
// 127.0.0.1:0 serving deterministic /obj/N bodies and counting requests per
// path, and Tern nodes built with node.New (cmd/tern/node) from a YAML topology: edges
// on 127.0.1.1, 127.0.2.1 and 127.0.3.1, shields on 127.0.0.1. Every body
// is checked (length and CRC-32C); the exit status is 1 if one is wrong.
// See bench/offload/README.md.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

type options struct {
	requests, objects, conc int
	zipfS                   float64
	seed                    uint64
	latN                    int
	faultRequests           int
	faultObjects            int
	faultRate               float64
	parts                   map[string]bool
	log                     *slog.Logger
}

// row is one line of the summary table.
type row struct{ part, what, value, note string }

var (
	summary  []row
	corrupt  int // wrong bodies seen anywhere
	problems []string
)

func add(part, what, value, note string) { summary = append(summary, row{part, what, value, note}) }

func main() {
	var o options
	flag.IntVar(&o.requests, "requests", 100_000, "requests of the offload run")
	flag.IntVar(&o.objects, "objects", 10_000, "objects of the offload run's Zipf distribution")
	flag.IntVar(&o.conc, "c", 16, "concurrent clients")
	flag.Float64Var(&o.zipfS, "zipf", 1.1, "Zipf exponent s (> 1)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the Zipf sequences")
	flag.IntVar(&maxKiB, "max-kib", 32, "bodies are 1 to max-kib KiB (plus N mod 509 bytes)")
	flag.IntVar(&o.latN, "lat-n", 2000, "requests per latency measurement")
	flag.IntVar(&o.faultRequests, "fault-requests", 20_000, "requests of the shield-kill run")
	flag.IntVar(&o.faultObjects, "fault-objects", 2_000, "objects of the shield-kill run")
	flag.Float64Var(&o.faultRate, "fault-rate", 4000, "request rate of the shield-kill run (req/s, 0: unpaced)")
	parts := flag.String("parts", "offload,latency,faults", "parts to run")
	logLevel := flag.String("log", "off", "node logs on stderr: off, error, warn, info")
	deadline := flag.Duration("deadline", 170*time.Second, "give up (exit 3) after this long")
	flag.Parse()

	o.parts = map[string]bool{}
	for p := range strings.SplitSeq(*parts, ",") {
		o.parts[strings.TrimSpace(p)] = true
	}
	o.log = slog.New(slog.DiscardHandler)
	if *logLevel != "off" {
		var lv slog.Level
		if err := lv.UnmarshalText([]byte(*logLevel)); err != nil {
			fmt.Fprintln(os.Stderr, "offload: -log:", err)
			os.Exit(2)
		}
		o.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	}
	if o.zipfS <= 1 || o.objects < 2 || o.requests < 1 || o.conc < 1 || maxKiB < 1 || maxKiB > 1024 {
		fmt.Fprintln(os.Stderr, "offload: bad flags")
		os.Exit(2)
	}
	time.AfterFunc(*deadline, func() {
		fmt.Fprintf(os.Stderr, "offload: still running after %s, giving up\n", *deadline)
		os.Exit(3)
	})

	dataDir, err := os.MkdirTemp("", "tern-offload-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "offload:", err)
		os.Exit(2)
	}
	defer os.RemoveAll(dataDir)

	start := time.Now()
	fmt.Printf("offload: %s, %s/%s, GOMAXPROCS %d, NumCPU %d, %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.GOMAXPROCS(0), runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	if err := run(o, dataDir); err != nil {
		fmt.Fprintln(os.Stderr, "offload:", err)
		os.RemoveAll(dataDir)
		os.Exit(2)
	}

	fmt.Printf("\n== summary (total %s)\n", time.Since(start).Round(time.Millisecond))
	slices.SortStableFunc(summary, func(a, b row) int { return strings.Compare(a.part, b.part) })
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "part\tmeasure\tvalue\tnote")
	for _, r := range summary {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.part, r.what, r.value, r.note)
	}
	tw.Flush()
	for _, p := range problems {
		fmt.Println("PROBLEM:", p)
	}
	if corrupt > 0 {
		fmt.Printf("FAIL: %d wrong bodies\n", corrupt)
		os.RemoveAll(dataDir)
		os.Exit(1)
	}
}

func run(o options, dataDir string) error {
	if o.parts["offload"] || o.parts["latency"] {
		if err := runOffloadAndLatency(o, dataDir); err != nil {
			return err
		}
	}
	if o.parts["offload"] {
		if err := runNoShields(o, dataDir); err != nil {
			return err
		}
	}
	if o.parts["faults"] {
		if err := runFaults(o, dataDir); err != nil {
			return err
		}
	}
	return nil
}
