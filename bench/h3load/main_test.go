package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// startH3 serves mux over HTTP/3 on 127.0.0.1:0 with a throwaway
// self-signed certificate and returns the address.
func startH3(t *testing.T, h http.Handler) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		DNSNames:     []string{"bench.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http3.Server{
		Handler:   h,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
	}
	go srv.Serve(conn)
	t.Cleanup(func() { srv.Close() })
	return conn.LocalAddr().String()
}

func TestRun(t *testing.T) {
	body := strings.Repeat("x", 1000)
	mux := http.NewServeMux()
	mux.HandleFunc("/hit", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Status", "tern; hit; ttl=10")
		w.Write([]byte(body))
	})
	mux.HandleFunc("/miss", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Status", "tern; fwd=miss")
		w.Write([]byte(body))
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Status", "tern; hit")
		w.Write([]byte(body[:10]))
	})
	addr := startH3(t, mux)

	for _, tc := range []struct {
		path    string
		wantErr string // in the first request's error; "" wants a clean run
	}{
		{"/hit", ""},
		{"/miss", `does not contain "HIT"`},
		{"/short", "10 body bytes, want 1000"},
		{"/none", "status 404, want 200"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			cfg := Config{
				URL:       "https://bench.test" + tc.path,
				ConnectTo: addr,
				Conns:     2,
				Streams:   3,
				Duration:  200 * time.Millisecond,
				Insecure:  true,
				Want:      Want{Size: int64(len(body)), Header: "Cache-Status", Marker: "HIT"},
			}
			res, err := Run(context.Background(), cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Run: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Requests == 0 {
				t.Fatalf("requests %d, errors %d (%v), want some and none", res.Requests, res.Errors, res.First)
			}
			if res.P50 <= 0 || res.P99 < res.P50 {
				t.Errorf("p50 %v, p99 %v", res.P50, res.P99)
			}
		})
	}
}
