package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for name with serial n.
func writePair(t *testing.T, dir string, n int64, mtime time.Time) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: "www.cdn.test"},
		DNSNames: []string{"www.cdn.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	os.Chtimes(certPath, mtime, mtime)
	os.Chtimes(keyPath, mtime, mtime)
	return certPath, keyPath
}

func TestFileCertReload(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	certPath, keyPath := writePair(t, dir, 1, start.Add(-time.Hour))
	fc, err := LoadFileCert(certPath, keyPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := start
	fc.now = func() time.Time { return clock }
	serial := func() int64 {
		c := fc.Certificate()
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.Int64()
	}
	if serial() != 1 {
		t.Fatal("first certificate not served")
	}
	writePair(t, dir, 2, start)
	clock = clock.Add(2 * time.Second)
	if got := serial(); got != 2 {
		t.Fatalf("after the files changed: serial %d, want 2", got)
	}
	// Files gone or broken: the loaded certificate stays.
	os.Remove(certPath)
	clock = clock.Add(2 * time.Second)
	if got := serial(); got != 2 {
		t.Fatalf("after the file disappeared: serial %d", got)
	}
	os.WriteFile(certPath, []byte("garbage"), 0o644)
	clock = clock.Add(2 * time.Second)
	if got := serial(); got != 2 {
		t.Fatalf("after the file broke: serial %d", got)
	}
	if _, err := LoadFileCert(filepath.Join(dir, "none.pem"), keyPath, nil); err == nil {
		t.Fatal("a missing file loaded")
	}
}
