// Command bare is the "bare Go" server of bench/sidebyside.sh, and its
// origin: net/http (HTTP/1.1, and HTTP/2 over TLS) and quic-go's http3
// serving bodies held in memory, with no cache logic at all, so that its row
// shows what the Go stack itself costs.
//
//	bare -http 127.0.0.1:18000                        # the origin
//	bare -http 127.0.0.1:18084 -https 127.0.0.1:18444 -cert c.pem -key k.pem
//
// It serves /<size>.bin for each of -sizes (1KiB.bin, 100KiB.bin, ...): the
// same pseudo-random bytes on every run and in every process, with
// Cache-Control from -cache-control and a Content-Length. -https serves TLS
// on TCP (h1 and h2) and HTTP/3 on UDP on the same port. GET /count answers
// with the number of body requests served so far (the bench's pure-hit
// check: a cache in front of an origin served only hits while the origin's
// count stayed the same).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quic-go/quic-go/http3"
)

func main() {
	httpAddr := flag.String("http", "", "plain HTTP/1.1 listen address")
	httpsAddr := flag.String("https", "", "TLS (h1, h2) on TCP and HTTP/3 on UDP, this address")
	certFile := flag.String("cert", "", "PEM certificate for -https")
	keyFile := flag.String("key", "", "PEM key for -https")
	sizes := flag.String("sizes", "1KiB,100KiB,1MiB", "comma-separated body sizes (KiB, MiB suffixes)")
	cacheControl := flag.String("cache-control", "public, max-age=3600", "Cache-Control of every body")
	header := flag.String("header", "", `one more response field, "Name: value" (optional)`)
	flag.Parse()
	if err := run(*httpAddr, *httpsAddr, *certFile, *keyFile, *sizes, *cacheControl, *header); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run(httpAddr, httpsAddr, certFile, keyFile, sizes, cacheControl, header string) error {
	if httpAddr == "" && httpsAddr == "" {
		return errors.New("give -http, -https or both")
	}
	h := &handler{bodies: map[string][]byte{}, cacheControl: []string{cacheControl}}
	if header != "" {
		name, value, ok := strings.Cut(header, ":")
		if !ok {
			return fmt.Errorf("-header %q: want \"Name: value\"", header)
		}
		h.extraName = http.CanonicalHeaderKey(strings.TrimSpace(name))
		h.extraValue = []string{strings.TrimSpace(value)}
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := ParseSize(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		h.bodies["/"+strings.TrimSpace(s)+".bin"] = Body(n)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 3)
	var closers []func()
	if httpAddr != "" {
		srv := &http.Server{Addr: httpAddr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		ln, err := net.Listen("tcp", httpAddr)
		if err != nil {
			return err
		}
		go func() { errc <- srv.Serve(ln) }()
		closers = append(closers, func() { srv.Close() })
	}
	if httpsAddr != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
		srv := &http.Server{Addr: httpsAddr, Handler: h, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second}
		ln, err := net.Listen("tcp", httpsAddr)
		if err != nil {
			return err
		}
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
		udp, err := net.ListenPacket("udp", httpsAddr)
		if err != nil {
			return err
		}
		h3 := &http3.Server{Handler: h, TLSConfig: tlsCfg}
		go func() { errc <- h3.Serve(udp) }()
		closers = append(closers, func() { srv.Close() }, func() { h3.Close() })
	}
	slog.Info("bare: serving", "http", httpAddr, "https", httpsAddr, "sizes", sizes)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	for _, c := range closers {
		c()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

type handler struct {
	bodies       map[string][]byte
	cacheControl []string
	extraName    string
	extraValue   []string
	served       atomic.Int64
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/count" {
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, h.served.Load())
		return
	}
	b, ok := h.bodies[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.served.Add(1)
	hdr := w.Header()
	hdr["Content-Type"] = []string{"application/octet-stream"}
	hdr["Content-Length"] = []string{strconv.Itoa(len(b))}
	hdr["Cache-Control"] = h.cacheControl
	if h.extraName != "" {
		hdr[h.extraName] = h.extraValue
	}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b)
}

// ParseSize reads "1KiB", "100KiB", "1MiB" or a plain byte count.
func ParseSize(s string) (int, error) {
	mult := 1
	num := s
	switch {
	case strings.HasSuffix(s, "KiB"):
		mult, num = 1<<10, strings.TrimSuffix(s, "KiB")
	case strings.HasSuffix(s, "MiB"):
		mult, num = 1<<20, strings.TrimSuffix(s, "MiB")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional KiB or MiB suffix", s)
	}
	return n * mult, nil
}

// Body is n pseudo-random bytes, the same for the same n in every process.
func Body(n int) []byte {
	rng := rand.NewChaCha8([32]byte{'t', 'e', 'r', 'n'})
	b := make([]byte, n)
	rng.Read(b)
	return b
}
