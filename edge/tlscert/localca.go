package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LocalCA is a certificate authority kept in a folder, for the demo and for
// fleets without ACME: it is created once and shared by every node that
// uses the folder, and it issues certificates only for the hosts it is
// given, on demand at the TLS handshake.
type LocalCA struct {
	dir   string
	root  *x509.Certificate
	key   *ecdsa.PrivateKey
	hosts map[string]bool
	now   func() time.Time

	mu    sync.Mutex
	certs map[string]*tls.Certificate
}

// OpenLocalCA loads the CA in dir, creating it if there is none, and
// returns it ready to issue certificates for hosts. The root certificate is
// at RootPath for clients to trust.
func OpenLocalCA(dir string, hosts []string) (*LocalCA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local CA %s: %w", dir, err)
	}
	ca := &LocalCA{dir: dir, hosts: map[string]bool{}, certs: map[string]*tls.Certificate{}, now: time.Now}
	for _, h := range hosts {
		ca.hosts[normalizeHost(h)] = true
	}
	pemPath := filepath.Join(dir, "ca.pem")
	data, err := os.ReadFile(pemPath)
	if errors.Is(err, os.ErrNotExist) {
		if err := createCA(dir, pemPath); err != nil {
			return nil, fmt.Errorf("local CA %s: %w", dir, err)
		}
		data, err = os.ReadFile(pemPath)
	}
	if err != nil {
		return nil, fmt.Errorf("local CA %s: %w", dir, err)
	}
	if err := ca.load(data); err != nil {
		return nil, fmt.Errorf("local CA %s: %w", pemPath, err)
	}
	// root.crt is what people trust; rewrite it from ca.pem every time so it
	// always matches.
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw})
	if err := writeFileAtomic(ca.RootPath(), rootPEM, 0o644); err != nil {
		return nil, fmt.Errorf("local CA %s: %w", dir, err)
	}
	return ca, nil
}

// createCA makes a root key and certificate and publishes them as ca.pem
// with a hard link, which fails if another node got there first: then its
// CA is the one everybody uses.
func createCA(dir, pemPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Tern local CA", Organization: []string{"Tern CDN"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	tmp, err := os.CreateTemp(dir, ".ca-*.pem")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), pemPath); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

func (ca *LocalCA) load(data []byte) error {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return err
			}
			ca.root = c
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				return err
			}
			ca.key = k
		}
	}
	if ca.root == nil || ca.key == nil {
		return errors.New("no certificate and key in it")
	}
	return nil
}

// RootPath is the root certificate's file, for clients to trust.
func (ca *LocalCA) RootPath() string { return filepath.Join(ca.dir, "root.crt") }

// Root is the root certificate.
func (ca *LocalCA) Root() *x509.Certificate { return ca.root }

// GetCertificate is tls.Config.GetCertificate: a certificate for the SNI
// name when it is one of the CA's hosts, and none (nil, nil) otherwise (no
// SNI, or a name Tern does not serve), so that crypto/tls, finding no
// certificate in a config that has none, fails the handshake with the
// alert unrecognized_name rather than internal_error.
func (ca *LocalCA) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalizeHost(hello.ServerName)
	if name == "" || !ca.hosts[name] {
		return nil, nil
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.certs[name]; ok && ca.now().Before(c.Leaf.NotAfter.Add(-24*time.Hour)) {
		return c, nil
	}
	c, err := ca.issue(name)
	if err != nil {
		return nil, err
	}
	ca.certs[name] = c
	return c, nil
}

// issue makes a 30-day certificate for name.
func (ca *LocalCA) issue(name string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue a certificate for %s: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.root.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
